"""ISO dates everywhere (``FORMAT_MODULE_PATH``): the admin and ``|date`` without an argument."""

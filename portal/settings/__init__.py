"""Settings modules: ``base`` (everything, from the environment), ``dev`` (``make run``, the
default of ``manage.py``), ``test`` (pytest) and ``production`` (passes ``check --deploy``)."""

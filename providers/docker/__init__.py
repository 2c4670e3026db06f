"""The Docker provider: one Docker-API engine (dockerd, or podman's compatible service).

``driver.DockerDriver`` is the entry point (``glasspane.providers`` -> ``docker``). The work is
split by concern: ``connection`` opens the SDK client and turns transport failures into the
contract's errors, ``containers`` maps ``/info`` and container inspect documents onto
``ObservedResource``, ``stats`` maps one stats document onto a ``UtilizationSample``, and
``parallel`` fans per-container calls out over a bounded thread pool.
"""

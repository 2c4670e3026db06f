"""A wire-level OpenStack simulator (Keystone v3, Nova v2.1, Cinder v3) for tests and the demo.

Real clients (openstacksdk, keystoneauth, plain HTTP) talk to it over HTTP exactly as they would to
a cloud; its state lives in memory (``state.CloudState``) with a clock tests control
(``clock.SimClock``). Start it with ``server.start_in_thread()`` or ``server.serve()``; seed it from
``seed``. It imports nothing of Glasspane's beyond itself.
"""

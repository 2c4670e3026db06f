"""Development only: simulators, test doubles and test-node generators.

Nothing here is a driver a production install offers. The OpenStack simulator (``devsim.openstack``),
the libvirt test-driver node writer (``devsim.libvirt_nodes``) and the fake driver (``devsim.fake``)
serve the test suite, ``make run``'s demo, ``openstack_sim`` and the benchmarks. The package is not
part of the installed distribution (see ``[tool.setuptools.packages.find]``); it is importable from
a checkout, where tests, the demo and ``manage.py`` run.
"""

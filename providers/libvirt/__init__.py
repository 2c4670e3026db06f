"""The KVM provider: a driver over libvirt (``qemu://``, ``qemu+ssh://``, ``qemu+tls://``, ``test://``).

Modules: ``driver`` (``LibvirtDriver``, the entry point), ``connection`` (opening and caching
connections, error classification), ``host`` and ``domains`` (XML -> facts), ``storage`` (disk
capacities), ``stats`` (utilization samples) and ``lifecycle`` (provisioning and actions). The
test-driver node writer for tests, the demo and benchmarks is ``devsim.libvirt_nodes``.
"""

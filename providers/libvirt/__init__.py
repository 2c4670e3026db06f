"""The KVM provider: a driver over libvirt (``qemu://``, ``qemu+ssh://``, ``qemu+tls://``, ``test://``).

Modules: ``driver`` (``LibvirtDriver``, the entry point), ``connection`` (opening and caching
connections, error classification), ``host`` and ``domains`` (XML -> facts), ``storage`` (disk
capacities), ``stats`` (utilization samples), ``lifecycle`` (provisioning and actions) and
``testnode`` (writes test-driver node XML for tests, the demo and benchmarks).
"""

"""The Proxmox VE driver (``driver.ProxmoxDriver``).

The driver speaks to the cluster's HTTPS API through ``proxmoxer`` and turns nodes, QEMU and LXC
guests, pools, tags and storage volumes into ``providers.base`` observations. There is no
development simulator of our own: the tests and the demo serve the API with the test-only
``fakepve`` package (see ``devsim.proxmox``).
"""

"""The Kubernetes driver (with KubeVirt): nodes, namespaces, pods, VMs, PVCs and ResourceQuotas
through the official ``kubernetes`` client. See ``driver.py``."""

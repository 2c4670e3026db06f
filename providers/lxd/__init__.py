"""The LXD provider: one LXD server (system containers and VMs) through pylxd.

``driver.LXDDriver`` is the entry point (``glasspane.providers`` -> ``lxd``). ``connection`` opens
the pylxd client and turns transport failures into the contract's errors, ``mapping`` turns
instance documents and instance state onto observations and samples, ``quotas`` translates LXD
project limits to and from Glasspane's quota keys, and ``events`` reads the lifecycle event stream.
"""

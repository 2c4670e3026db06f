"""The OpenStack driver (``driver.OpenStackDriver``).

The driver speaks to Keystone, Nova and Cinder through openstacksdk's authenticated adapters and
turns what they report into ``providers.base`` observations. The simulator that serves the same
APIs from memory for fast tests and the demo is development-only: ``devsim.openstack``.
"""

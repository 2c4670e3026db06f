"""The OpenStack driver (``driver.OpenStackDriver``) and the simulator it is tested against.

The driver speaks to Keystone, Nova and Cinder through openstacksdk's authenticated adapters and
turns what they report into ``providers.base`` observations; ``simulator`` serves the same APIs
from memory for tests and the demo.
"""

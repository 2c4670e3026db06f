"""Template filters for numbers, sizes and durations (``{% load glasspane %}``); see ``portal.units``."""

from django import template

from portal import units

register = template.Library()


@register.filter
def num(value, places=None):
    """Thousands separators: ``{{ x|num }}``, ``{{ cost|num:2 }}``."""
    return units.number(value, None if places in (None, "") else int(places))


@register.filter
def gib(value):
    """MiB → GiB: ``{{ resource.ram_mb|gib }}``."""
    return units.gib_from_mib(value)


@register.filter
def gib_bytes(value):
    return units.gib_from_bytes(value)


@register.filter
def duration(value):
    return units.duration(value)

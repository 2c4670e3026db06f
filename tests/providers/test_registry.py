"""The registry finds built-in drivers and drivers shipped by other installed distributions."""

import sys
import textwrap

import pytest

from devsim.fake import FakeDriver
from providers import registry
from providers.base import Driver


def test_builtin_kinds_are_declared():
    assert {"libvirt", "docker", "openstack", "fake"} <= set(registry.kinds())
    assert registry.driver_class("fake") is FakeDriver


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(registry.UnknownKind) as err:
        registry.driver_class("vmware")
    assert "vmware" in str(err.value) and "libvirt" in str(err.value)


def test_a_separately_installed_distribution_adds_a_kind(tmp_path, monkeypatch):
    """A dist-info folder on sys.path is exactly what pip leaves for an installed package."""
    pkg = tmp_path / "acme_glasspane"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from providers.base import Driver, Health, Inventory

        class AcmeDriver(Driver):
            kind = "acme"
            def health(self):
                return Health(True, "ok")
            def inventory(self, since=None):
                return Inventory(resources=[])
    """))
    dist = tmp_path / "acme_glasspane-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-glasspane\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[glasspane.providers]\nacme = acme_glasspane:AcmeDriver\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload()
    try:
        assert "acme" in registry.kinds()
        cls = registry.driver_class("acme")
        assert issubclass(cls, Driver) and cls.kind == "acme"
        assert cls({}).inventory().resources == []
    finally:
        sys.modules.pop("acme_glasspane", None)
        monkeypatch.undo()
        registry.reload()
    assert "acme" not in registry.kinds()

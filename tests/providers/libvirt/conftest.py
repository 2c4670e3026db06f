"""Fixtures for the libvirt driver tests: generated test-driver nodes and drivers pointed at them.

Every test that changes domains gets its own node file, hence its own ``test:///`` URI and its own
cached connection, so tests cannot see each other's changes; the connection is forgotten after
the test. Read-only tests share one bigger node per module.
"""

from __future__ import annotations

import pytest

from devsim.libvirt_nodes import write_node_xml
from providers.libvirt import connection
from providers.libvirt.driver import LibvirtDriver

PROJECTS = ["acme", "globex", "initech", "umbrella"]
HOST_CPUS = 48
HOST_MEMORY_MB = 196608


class Node:
    """A generated node file, its URI and the facts of its domains."""

    def __init__(self, path, facts):
        self.path = path
        self.uri = f"test://{path}"
        self.facts = facts
        self.by_uuid = {f["uuid"]: f for f in facts}

    def driver(self, **settings) -> LibvirtDriver:
        credentials = settings.pop("credentials", None)
        return LibvirtDriver({"uri": self.uri, **settings}, credentials)


def make_node(path, domains, **kwargs) -> Node:
    kwargs.setdefault("host_cpus", HOST_CPUS)
    kwargs.setdefault("host_memory_mb", HOST_MEMORY_MB)
    facts = write_node_xml(path, domains, PROJECTS, **kwargs)
    return Node(path, facts)


@pytest.fixture(scope="module")
def big_node(tmp_path_factory):
    """300 domains, two with a project hint that is not a slug. Do not change it."""
    node = make_node(tmp_path_factory.mktemp("libvirt") / "node.xml", 300, seed=7, bad_metadata=2)
    yield node
    connection.forget(node.uri)


@pytest.fixture
def node(tmp_path):
    """40 domains of its own, free to change."""
    node = make_node(tmp_path / "node.xml", 40, seed=3)
    yield node
    connection.forget(node.uri)

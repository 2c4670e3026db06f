"""The node generator: deterministic, spread as promised, and what libvirt actually serves."""

from __future__ import annotations

import libvirt
import pytest

from devsim.libvirt_nodes import write_node_xml
from providers.base import State


def test_same_seed_same_file_other_seed_other_file(tmp_path):
    a = write_node_xml(tmp_path / "a.xml", 50, ["p1", "p2"], seed=1)
    b = write_node_xml(tmp_path / "b.xml", 50, ["p1", "p2"], seed=1)
    c = write_node_xml(tmp_path / "c.xml", 50, ["p1", "p2"], seed=2)
    assert a == b and (tmp_path / "a.xml").read_text() == (tmp_path / "b.xml").read_text()
    assert [f["uuid"] for f in a] != [f["uuid"] for f in c]


def test_domains_are_spread_over_projects_states_and_hints(tmp_path):
    facts = write_node_xml(tmp_path / "n.xml", 1000, ["p1", "p2", "p3"], seed=5, bad_metadata=3)
    assert {f["name_project"] for f in facts} == {"p1", "p2", "p3"}
    assert len({f["uuid"] for f in facts}) == len({f["name"] for f in facts}) == 1000
    shares = {
        s: sum(f["state"] == s for f in facts) / 1000 for s in (State.RUNNING, State.PAUSED, State.STOPPED)
    }
    assert (
        0.45 < shares[State.RUNNING] < 0.65
        and 0.05 < shares[State.PAUSED] < 0.15
        and 0.22 < shares[State.STOPPED] < 0.38
    )
    unlabelled = sum(f["project"] is None and not f["bad_metadata"] for f in facts)
    assert 50 < unlabelled < 150
    assert sum(f["bad_metadata"] for f in facts) == 3


@pytest.mark.integration
def test_libvirt_serves_what_the_facts_say(tmp_path):
    facts = write_node_xml(tmp_path / "n.xml", 60, ["p1"], seed=9)
    conn = libvirt.open(f"test://{tmp_path}/n.xml")
    try:
        served = {d.UUIDString(): d.state()[0] for d in conn.listAllDomains()}
        assert served == {f["uuid"]: f["runstate"] for f in facts}
    finally:
        conn.close()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one project"):
        write_node_xml(tmp_path / "n.xml", 1, [])
    with pytest.raises(ValueError, match="multiple of 4"):
        write_node_xml(tmp_path / "n.xml", 1, ["p"], host_cpus=6)

"""What a launch form may offer on Kubernetes: pods, and VMs only where KubeVirt is installed."""

from __future__ import annotations

import pytest

from providers.base import Kind

pytestmark = pytest.mark.integration


def test_kinds_follow_kubevirt(make_cluster, make_driver):
    assert make_driver(make_cluster()).launch_options().kinds == (Kind.CONTAINER, Kind.VM)
    without = make_driver(make_cluster(kubevirt=False, metrics=False)).launch_options()
    assert without.kinds == (Kind.CONTAINER,) and without.images == ()
    assert without.notes and "image reference" in without.notes[0]

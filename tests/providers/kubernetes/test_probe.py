"""Test connection on Kubernetes: the probe through ``providers.connection_check`` against the
simulated API server, counted again with the official client; refused tokens and RBAC limits."""

from __future__ import annotations

import pytest
from kubernetes import client

from devsim.kubernetes import seed
from providers import connection_check

pytestmark = pytest.mark.integration


def test_version_nodes_pods_and_vms(cluster, api_client):
    official = api_client(cluster)
    nodes = len(client.CoreV1Api(official).list_node().items)
    pods = len(client.CoreV1Api(official).list_pod_for_all_namespaces().items)
    vms = len(client.CustomObjectsApi(official).list_cluster_custom_object(
        "kubevirt.io", "v1", "virtualmachines")["items"])
    version = client.VersionApi(official).get_code().git_version
    result = connection_check.check("kubernetes", {"server": cluster.url}, {"token": seed.ADMIN_TOKEN})
    assert result.ok, result.message
    assert result.probe.counts == {"nodes": nodes, "pods": pods, "virtual machines": vms}
    assert result.message == (f"Connected to Kubernetes {version} at {cluster.url}: {nodes} nodes, {pods} pods, "
                              f"{vms} virtual machines")


def test_without_kubevirt_the_note_says_pods_only(make_cluster):
    cluster = make_cluster(kubevirt=False)
    result = connection_check.check("kubernetes", {"server": cluster.url}, {"token": seed.ADMIN_TOKEN})
    assert result.ok and "virtual machines" not in result.probe.counts
    assert result.message.endswith("; KubeVirt not installed: pods only")


def test_vms_the_token_may_not_list_are_a_note_not_a_failure(cluster):
    result = connection_check.check("kubernetes", {"server": cluster.url}, {"token": seed.NO_KUBEVIRT_TOKEN})
    assert result.ok and "virtual machines" not in result.probe.counts
    assert "cannot list virtualmachines.kubevirt.io: forbidden" in result.message


def test_a_refused_token_is_a_credentials_problem(cluster):
    result = connection_check.check("kubernetes", {"server": cluster.url}, {"token": "not-a-token"})
    assert not result.ok and result.problem == "credentials"
    assert result.message == "Kubernetes refused the credentials (401 Unauthorized) while trying to read the server version"


def test_nothing_listening_is_connection_refused(cluster):
    url = cluster.url
    cluster.stop()
    result = connection_check.check("kubernetes", {"server": url}, {"token": seed.ADMIN_TOKEN})
    port = url.rsplit(":", 1)[1]
    assert not result.ok and result.problem == "unreachable"
    assert result.message == ("cannot reach the Kubernetes API server to read the server version: "
                              f"connection refused at 127.0.0.1:{port}")

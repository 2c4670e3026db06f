"""Building the client configuration and reading the API server's errors (no server needed)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from kubernetes import client

from providers.base import ProviderAuthError, ProviderDataError, ProviderUnavailable
from providers.kubernetes import api, quotas
from providers.kubernetes.api import Expired, Forbidden, QuotaRefused


def test_token_configuration_with_ca_bundle_and_verify():
    config = api.configuration({"server": "https://k8s.example.org:6443/", "ca_bundle": "/etc/ssl/k8s-ca.pem"},
                               {"token": "abc"})
    assert config.host == "https://k8s.example.org:6443"
    assert config.api_key == {"authorization": "Bearer abc"} and config.ssl_ca_cert == "/etc/ssl/k8s-ca.pem"
    assert config.verify_ssl is True
    assert api.configuration({"server": "https://x", "verify": False}, {"token": "t"}).verify_ssl is False


def test_a_broken_kubeconfig_is_a_credential_error():
    with pytest.raises(ProviderAuthError, match="kubeconfig credential cannot be used"):
        api.configuration({}, {"kubeconfig": "apiVersion: v1\nclusters: []\ncontexts: []\n"})


def status(code: int, reason: str, message: str) -> client.ApiException:
    exc = client.ApiException(status=code, reason=reason)
    exc.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                           "reason": reason, "code": code})
    return exc


def test_status_objects_become_the_contracts_errors():
    forbidden = api.classify(status(403, "Forbidden", 'virtualmachines.kubevirt.io is forbidden: User "x" cannot '
                                                      'list resource'), "list virtualmachines.kubevirt.io")
    assert isinstance(forbidden, Forbidden)
    assert str(forbidden).startswith("cannot list virtualmachines.kubevirt.io: forbidden (")
    quota = api.classify(status(403, "Forbidden", 'pods "a" is forbidden: exceeded quota: q, requested: pods=1'),
                         "create pod ns/a")
    assert isinstance(quota, QuotaRefused) and not isinstance(quota, Forbidden)
    assert isinstance(api.classify(status(410, "Expired", "too old"), "list pods"), Expired)
    assert isinstance(api.classify(status(503, "ServiceUnavailable", "etcd down"), "list pods"), ProviderUnavailable)
    assert isinstance(api.classify(status(401, "Unauthorized", "Unauthorized"), "list pods"), ProviderAuthError)
    bad = api.classify(status(422, "Invalid", 'Pod "x" is invalid'), "create pod ns/x")
    assert isinstance(bad, ProviderDataError) and "422 Invalid" in str(bad)


def test_quota_translation_both_ways():
    assert quotas.merged_hard({"pods": "9", "limits.cpu": "4"}, {"containers": 20, "ram_mb": 512, "vms": -1}) == {
        "pods": "20", "limits.cpu": "4", "requests.memory": "512Mi"}
    with pytest.raises(ProviderDataError, match="whole number"):
        quotas.merged_hard({}, {"vcpus": "lots"})
    readings = quotas.readings([
        {"spec": {"hard": {"requests.cpu": "1500m", "requests.memory": "2Gi"}},
         "status": {"used": {"requests.cpu": "500m", "requests.memory": "1Gi"}}},
        {"spec": {"hard": {"requests.cpu": "8", "requests.storage": "100Gi"}}},
    ])
    assert (readings["vcpus"].limit, readings["vcpus"].used) == (1, Decimal("0.5"))  # 1500m holds as 1 whole core
    assert readings["ram_mb"].limit == 2048 and readings["ram_mb"].used == 1024
    assert readings["disk_gb"].limit == 100 and readings["disk_gb"].used is None


def test_a_vm_instance_dates_its_vms_start_once_and_its_stop():
    from datetime import UTC, datetime

    from providers.base import EventAction
    from providers.kubernetes.mapping import change_events

    vmi = {"metadata": {"uid": "vmi-1", "name": "db", "namespace": "ns",
                        "ownerReferences": [{"kind": "VirtualMachine", "uid": "vm-1", "name": "db"}]},
           "status": {"phaseTransitionTimestamps": [{"phase": "Running",
                                                     "phaseTransitionTimestamp": "2026-01-02T03:04:05Z"}]}}
    started: set[str] = set()
    first = change_events("virtualmachineinstances", "ADDED", vmi, started)
    assert [(e.external_id, e.action, e.at) for e in first] == [
        ("vm-1", EventAction.STARTED, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))]
    assert change_events("virtualmachineinstances", "MODIFIED", vmi, started) == []
    vmi["metadata"]["deletionTimestamp"] = "2026-01-02T04:00:00Z"
    (stop,) = change_events("virtualmachineinstances", "DELETED", vmi, started)
    assert (stop.external_id, stop.action, stop.at.hour) == ("vm-1", EventAction.STOPPED, 4)
    assert change_events("pods", "DELETED", {"metadata": {"uid": "p", "labels": {"kubevirt.io": "virt-launcher"}}},
                         started) == []

"""Rightsizing on a synthetic utilization shape, to the cent (the README's worked example).

Rates: vCPU-hour 0.01, RAM GB-hour 0.005, instance-hour 0.02 EUR; a month is 720 hours.
* big, 8 vCPU / 16 GiB, flavor m1.xlarge: 300 hours at 10 % CPU and 36 at 20 % (p95 = 20 %),
  peak memory 4000 MB. Needs 8 x 20 / 60 = 2.67 vCPU and 4000 / 0.8 = 5000 MB: the smallest
  flavor of the same account that fits is m1.large (4 vCPU, 8 GiB). 720 x (0.08 + 0.08 + 0.02) =
  129.60 now, 720 x (0.04 + 0.04 + 0.02) = 72.00 after: saves 57.60.
* sleepy, 2 vCPU / 2 GiB: 1 % CPU, 1 kB/h of network: idle; saves 720 x 0.05 = 36.00.
* parked, 2 vCPU / 2 GiB / 50 GB, stopped for 14 days: saves what it costs stopped, 36.00.
* busy (80 % CPU) and fresh (10 hours of samples) get nothing.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from metering import recommendations as rec
from metering.models import RecommendationDecision, Resource, UtilizationRollup
from providers.base import State
from tests.conftest import vm
from tests.metering.chargeback.conftest import NOV, day, make_plan

pytestmark = pytest.mark.django_db
NOW = day(14)


def rollups(name, hours, cpu, net=10 * 1024 * 1024, mem=4000.0):
    resource = Resource.objects.get(name=name)
    UtilizationRollup.objects.bulk_create([
        UtilizationRollup(resource=resource, hour=NOW - timedelta(hours=h + 1), samples=12,
                          cpu_pct_avg=cpu(h) if callable(cpu) else cpu, net_bytes=net, memory_max_mb=mem)
        for h in range(hours)])


@pytest.fixture
def fleet(ledger, project):
    make_plan(vcpu_hours="0.01", ram_gb_hours="0.005", instance_hours="0.02")
    running = [
        vm("big", vcpus="8", ram_mb=16384, flavor="m1.xlarge", started_at=NOV),
        vm("large", vcpus="4", ram_mb=8192, flavor="m1.large", started_at=NOV),
        vm("medium", vcpus="2", ram_mb=4096, flavor="m1.medium", started_at=NOV),
        vm("sleepy", vcpus="2", ram_mb=2048, started_at=NOV),
        vm("busy", vcpus="2", ram_mb=2048, started_at=NOV),
        vm("fresh", vcpus="2", ram_mb=2048, started_at=NOV),
    ]
    parked = vm("parked", vcpus="2", ram_mb=2048, disk_gb="50", state=State.STOPPED)
    ledger.at(day(0), *running, parked)
    ledger.at(NOW, *running, parked)
    rollups("big", 336, lambda h: 20.0 if h < 36 else 10.0)
    rollups("sleepy", 336, 1.0, net=1000, mem=300.0)
    rollups("busy", 336, 80.0, mem=1900.0)
    rollups("fresh", 10, 1.0, net=0)
    return ledger


def by_name(recs):
    return {r.resource.name: r for r in recs}


def test_worked_example_to_the_cent(fleet):
    recs = by_name(rec.recommend(window_days=14, now=NOW))
    assert set(recs) == {"big", "sleepy", "parked"}
    big = recs["big"]
    assert big.kind == "oversized" and big.suggested == {"flavor": "m1.large", "vcpus": Decimal(4), "ram_mb": 8192}
    assert big.evidence == {"window_days": 14, "hours": 336, "p95_cpu_pct": 20.0,
                            "p95_net_bytes_per_hour": 10485760, "peak_memory_mb": 4000.0}
    assert (big.monthly_saving, big.currency) == (Decimal("57.60"), "EUR")
    assert big.suggestion == "resize to flavor m1.large 4 vCPU, 8192 MB"
    assert recs["sleepy"].kind == "idle" and recs["sleepy"].monthly_saving == Decimal("36.00")
    assert recs["sleepy"].evidence["p95_cpu_pct"] == 1.0
    parked = recs["parked"]
    assert parked.kind == "stopped_with_disks" and parked.monthly_saving == Decimal("36.00")
    assert parked.evidence == {"stopped_days": 14, "disk_gb": "50"}
    assert [r.resource.name for r in rec.recommend(window_days=14, now=NOW)][0] == "big"  # largest saving first


def test_without_a_flavor_catalog_the_size_is_rounded(fleet):
    Resource.objects.filter(name__in=["large", "medium"]).update(flavor="")
    big = by_name(rec.recommend(window_days=14, now=NOW))["big"]
    # 2.67 -> 3 vCPU; 5000 MB -> 8192 (powers of two from 256)
    assert big.suggested == {"flavor": "", "vcpus": Decimal(3), "ram_mb": 8192}
    assert big.monthly_saving == Decimal("64.80")  # 129.60 - 720 x (0.03 + 0.04 + 0.02)


def test_dismiss_and_snooze_are_audited_and_respected(fleet, django_user_model):
    user = django_user_model.objects.create_user("ops")
    sleepy, big = Resource.objects.get(name="sleepy"), Resource.objects.get(name="big")
    rec.decide(sleepy, "idle", "dismiss", user=user, note="a standby on purpose")
    rec.decide(big, "oversized", "snooze", user=user, until=NOW + timedelta(days=7))
    assert set(by_name(rec.recommend(window_days=14, now=NOW))) == {"parked"}
    assert set(by_name(rec.recommend(window_days=14, now=NOW + timedelta(days=8)))) >= {"big"}
    audit = list(RecommendationDecision.objects.order_by("pk").values_list("resource__name", "action", "user__username"))
    assert audit == [("sleepy", "dismiss", "ops"), ("big", "snooze", "ops")]
    with pytest.raises(ValueError, match="needs a date"):
        rec.decide(big, "oversized", "snooze")
    with pytest.raises(ValueError, match="window must be one of 14, 30"):
        rec.recommend(window_days=7, now=NOW)


def test_p95_is_nearest_rank():
    assert rec.p95([float(x) for x in range(1, 101)]) == 95.0
    assert rec.p95([5.0]) == 5.0


def test_page_csv_api_and_decisions(fleet, client, django_user_model, project):
    from metering.models import Membership

    member = django_user_model.objects.create_user("mia", password="pw")
    viewer = django_user_model.objects.create_user("vic", password="pw")
    Membership.objects.create(user=member, project=project, role="member")
    Membership.objects.create(user=viewer, project=project, role="viewer")
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=NOW):
        client.force_login(viewer)
        page = client.get("/recommendations/?window=14").content.decode()
        assert 'id="rec-table"' in page and "57.60 EUR" in page and "resize to flavor m1.large" in page
        csv_text = b"".join(client.get("/recommendations/?format=csv").streaming_content).decode()
        assert csv_text.splitlines()[1].startswith("alpha,big,vm,fake") and ",57.60,EUR" in csv_text
        big = Resource.objects.get(name="big")
        assert client.post("/recommendations/", {"resource": big.pk, "kind": "oversized",
                                                 "action": "dismiss"}).status_code == 403
        api = client.get("/api/v1/recommendations/", {"window": "14"}).json()
        assert {r["name"]: r["monthly_saving"] for r in api} == {"big": "57.60", "sleepy": "36.00", "parked": "36.00"}
        client.force_login(member)
        response = client.post("/recommendations/?window=14", {"resource": big.pk, "kind": "oversized",
                                                               "action": "snooze", "days": "7"})
        assert response.status_code == 302
        assert "big" not in {r["name"] for r in client.get("/api/v1/recommendations/").json()}
        decision = RecommendationDecision.objects.get()
        assert (decision.action, decision.user.username, decision.until) == ("snooze", "mia", NOW + timedelta(days=7))
        bad = client.post("/api/v1/recommendation-decisions/", {"resource": big.pk, "kind": "oversized",
                                                                "action": "snooze"}, content_type="application/json")
        assert bad.status_code == 400 and "needs a date" in str(bad.json())

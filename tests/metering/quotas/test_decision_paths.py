"""Admission gives the same answers on both paths: PostgreSQL's one-round-trip statement
(``metering.quotas.roundtrip``) and the Python steps SQLite uses. Every test here runs on whichever
database the suite runs on (CI runs both), with the same expected answers."""

from __future__ import annotations

import sys
import types
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metering.choices import ChangeSource, QuotaKey, RequestState
from metering.models import ProvisionRequest, QuotaDefault, Reservation, Resource
from metering.quotas import QuotaExceeded, project_usage, set_limits, submit

VM = {"name": "web", "kind": "vm", "vcpus": 1, "ram_mb": 1024}


def limit(project, account=None, **values):
    set_limits(project, values, user=None, source=ChangeSource.CLI, account=account)


def resource(account, project, ext, kind="vm", deleted=False, **sizes):
    now = timezone.now()
    return Resource.objects.create(account=account, project=project, external_id=ext, kind=kind, name=ext,
                                   first_seen=now, last_seen=now, deleted_at=now if deleted else None, **sizes)


def refusal(project, account, spec) -> QuotaExceeded:
    with pytest.raises(QuotaExceeded) as err:
        submit(project, account, spec, user=None, source=ChangeSource.API)
    recorded = ProvisionRequest.objects.filter(state=RequestState.REFUSED).latest("id")
    assert recorded.message == err.value.message and not Reservation.objects.filter(request=recorded).exists()
    return err.value


@pytest.mark.django_db
def test_fractions_are_worded_as_nova_words_them(fake_account, project, queued):
    limit(project, vcpus=2)
    submit(project, fake_account, {**VM, "vcpus": "1.5"}, user=None, source=ChangeSource.API)
    err = refusal(project, fake_account, {**VM, "vcpus": "0.75"})
    assert err.message == "Quota exceeded for vcpus: Requested 0.75, but already used 1.5 of 2 vcpus"
    assert (err.key, err.requested, err.used, err.limit, err.account) == ("vcpus", Decimal("0.75"), Decimal("1.5"), 2,
                                                                          None)


@pytest.mark.django_db
def test_the_inventory_counts_by_the_contribution_table_in_each_scope(make_account, fake_account, project, queued):
    other = make_account(name="other")
    resource(fake_account, project, "a", vcpus=2, ram_mb=1000, disk_gb=10)
    resource(other, project, "b", vcpus=3, ram_mb=1000, disk_gb=5)
    resource(fake_account, project, "gone", vcpus=50, ram_mb=1000, deleted=True)  # deleted: counts nowhere
    resource(fake_account, project, "vol", kind="volume", disk_gb=7)  # a volume: disk and volumes, not vcpus
    resource(fake_account, None, "stray", vcpus=9, ram_mb=1)  # another project's (none): not ours
    limit(project, disk_gb=40)
    limit(project, fake_account, vcpus=4)
    err = refusal(project, fake_account, {**VM, "vcpus": 3})
    assert err.message == f"Quota exceeded for vcpus on {fake_account.name}: Requested 3, but already used 2 of 4 vcpus"
    err = refusal(project, fake_account, {**VM, "disk_gb": 20})  # 10 + 5 + 7 on both accounts
    assert err.message == "Quota exceeded for disk_gb: Requested 20, but already used 22 of 40 disk_gb"
    request = submit(project, fake_account, {**VM, "disk_gb": 18}, user=None, source=ChangeSource.API)
    assert request.state == RequestState.PENDING and project_usage(project)["disk_gb"].in_use == 40


@pytest.mark.django_db
def test_a_site_default_applies_until_the_project_sets_its_own(fake_account, project, queued):
    QuotaDefault.objects.create(key=QuotaKey.VMS, limit=1)
    submit(project, fake_account, VM, user=None, source=ChangeSource.API)
    assert refusal(project, fake_account, VM).message == "Quota exceeded for vms: Requested 1, but already used 1 of 1 vms"
    limit(project, vms=-1)  # the project's own value (unlimited) wins over the default
    assert submit(project, fake_account, VM, user=None, source=ChangeSource.API).state == RequestState.PENDING


@pytest.mark.django_db
def test_a_budget_narrowed_to_the_account_compares_the_whole_forecast(fake_account, project, queued, monkeypatch):
    costs = types.ModuleType("metering.chargeback.costs")
    costs.month_to_date = lambda project: types.SimpleNamespace(forecast=Decimal("90.25"))
    costs.forecast_delta = lambda project, vcpus, ram_mb, disk_gb, kind, account, now=None: vcpus * Decimal("2.5")
    monkeypatch.setitem(sys.modules, "metering.chargeback.costs", costs)
    limit(project, fake_account, budget=100)
    assert submit(project, fake_account, {**VM, "vcpus": 2}, user=None, source=ChangeSource.API).reservation.cost == 5
    err = refusal(project, fake_account, {**VM, "vcpus": 2})
    assert err.message == (f"Quota exceeded for budget on {fake_account.name}: Requested 5, "
                           f"but already used 95.25 of 100 budget")


@pytest.mark.django_db
def test_an_admission_answers_with_the_request_as_stored(fake_account, project, queued, django_user_model,
                                                         django_capture_on_commit_callbacks):
    user = django_user_model.objects.create_user("member")
    with django_capture_on_commit_callbacks(execute=True):
        request = submit(project, fake_account, VM, user=user, source=ChangeSource.PORTAL, idempotency_key="k1")
    stored = ProvisionRequest.objects.get(pk=request.pk)
    for field in ("project_id", "account_id", "requested_by_id", "kind", "spec", "state", "message", "created_at",
                  "idempotency_key", "finished_at"):
        assert getattr(request, field) == getattr(stored, field), field
    assert stored.spec["source"] == ChangeSource.PORTAL and stored.reservation.vcpus == 1
    assert queued == [request.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-round-trip statement is PostgreSQL's path")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_decision_is_one_pipelined_round_trip(fake_account, project, queued, monkeypatch):
    """No ORM query at all (each would be a round trip of its own); one pipeline to the server."""
    limit(project, vms=1)
    raw_pipelines = []
    connection.ensure_connection()
    real = type(connection.connection).pipeline

    def counted(self):
        raw_pipelines.append(1)
        return real(self)

    # the serving rule (``launching.refusal``) needs the account's tenancy: the API looks the
    # account up with it (``with_tenancy``), so the decision itself adds no query
    from metering.launching import with_tenancy
    from providers.models import ProviderAccount

    account = with_tenancy(ProviderAccount.objects.filter(pk=fake_account.pk)).get()
    monkeypatch.setattr(type(connection.connection), "pipeline", counted)
    with CaptureQueriesContext(connection) as orm:
        submit(project, account, VM, user=None, source=ChangeSource.API)
        with pytest.raises(QuotaExceeded):
            submit(project, account, VM, user=None, source=ChangeSource.API)
    assert len(orm.captured_queries) == 0, [q["sql"][:80] for q in orm.captured_queries]
    assert len(raw_pipelines) == 2 and connection.connection.info.transaction_status == 0  # idle: committed
    with connection.cursor() as cursor:  # the asynchronous commit was the decision's own, not the session's
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@pytest.mark.django_db(transaction=True)
def test_a_failed_decision_leaves_the_connection_usable(fake_account, project, queued, django_user_model):
    """The same Idempotency-Key twice by one user: the second insert violates the constraint (the
    API answers with the first request); the failed transaction is rolled back, nothing is held."""
    user = django_user_model.objects.create_user("member")
    submit(project, fake_account, VM, user=user, source=ChangeSource.API, idempotency_key="same")
    with pytest.raises(IntegrityError):
        submit(project, fake_account, VM, user=user, source=ChangeSource.API, idempotency_key="same")
    assert Reservation.objects.filter(active=True).count() == 1
    assert submit(project, fake_account, VM, user=user, source=ChangeSource.API).state == RequestState.PENDING

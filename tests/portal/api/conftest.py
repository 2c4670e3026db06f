"""A seeded two-project world for the API tests: projects alpha (A) and bravo (B), a caller of
each role in A, staff, a read-scope token, resources in A, in B and unassigned, with usage and
utilization recorded by a real refresh of the fake driver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from metering import collector
from metering.choices import Role
from metering.models import (
    BudgetAlert,
    Membership,
    Project,
    ProvisionRequest,
    QuotaBreach,
    RatePlan,
    RefreshRun,
    ReportSubscription,
    Resource,
    Statement,
    UtilizationRollup,
)
from portal.models import PersonalAccessToken, TokenScope
from tests.conftest import T0, vm

CALLERS = ("anon", "viewer", "member", "admin", "staff", "token")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and login counters live in the cache: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    a: Project
    b: Project
    users: dict
    token: str  # read scope, belongs to the admin of A
    write_token: str  # write scope, belongs to the admin of A
    account: object
    resources: dict  # "A", "B", "U" (unassigned) -> Resource
    memberships: dict  # "A", "B" -> a membership of another user in that project
    run: RefreshRun
    breaches: dict  # "A", "B" -> QuotaBreach
    requests: dict  # "A", "B" -> ProvisionRequest
    statements: dict  # "A", "B" -> Statement
    subscriptions: dict  # "A", "B" -> ReportSubscription
    alerts: dict  # "A", "B" -> BudgetAlert
    plan: RatePlan

    def client(self, caller: str) -> APIClient:
        client = APIClient()
        if caller == "token":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        elif caller != "anon":
            client.force_login(self.users[caller])
        return client


@pytest.fixture
def api_world(db, django_user_model, fake_account, world) -> World:
    a = Project.objects.create(slug="alpha", name="Alpha")
    b = Project.objects.create(slug="bravo", name="Bravo")
    users = {name: django_user_model.objects.create_user(name, password="pw-" + name)
             for name in ("viewer", "member", "admin", "staff", "dave", "erin", "newbie")}
    users["staff"].is_staff = True
    users["staff"].save()
    for name, role in (("viewer", Role.VIEWER), ("member", Role.MEMBER), ("admin", Role.ADMIN)):
        Membership.objects.create(user=users[name], project=a, role=role)
    m_a = Membership.objects.create(user=users["dave"], project=a, role=Role.VIEWER)
    m_b = Membership.objects.create(user=users["erin"], project=b, role=Role.ADMIN)
    world.put(vm("a-1", "web-a", project="alpha", labels={"env": "prod"}))
    world.put(vm("b-1", "web-b", project="bravo", labels={"env": "prod"}))
    world.put(vm("u-1", "stray", project="nobody-knows"))
    world.now = T0
    collector.refresh(fake_account)
    world.now = T0 + timedelta(hours=2)
    run = collector.refresh(fake_account)
    resources = {"A": Resource.objects.get(external_id="a-1"), "B": Resource.objects.get(external_id="b-1"),
                 "U": Resource.objects.get(external_id="u-1")}
    for r in resources.values():
        UtilizationRollup.objects.create(resource=r, hour=T0, samples=2, cpu_pct_avg=50.0, cpu_core_seconds=3600.0)
    _, token = PersonalAccessToken.issue(users["admin"], scope=TokenScope.READ)
    _, write_token = PersonalAccessToken.issue(users["admin"], scope=TokenScope.WRITE)
    breaches, requests, statements, subscriptions, alerts = {}, {}, {}, {}, {}
    for key, project in (("A", a), ("B", b)):
        subscriptions[key] = ReportSubscription.objects.create(project=project, kind="usage_csv",
                                                               recipients=f"sub-{key}@example.test")
        alerts[key] = BudgetAlert.objects.create(project=project, period_start=T0, basis="forecast", threshold=50,
                                                 budget=100, amount=60, currency="EUR", fired_at=T0)
        breaches[key] = QuotaBreach.objects.create(project=project, key="vms", limit=0, used=1, over_by=1,
                                                   opened_at=T0)
        requests[key] = ProvisionRequest.objects.create(project=project, account=fake_account, kind="vm",
                                                        spec={"name": f"req-{key}"}, requested_by=users["staff"])
        statements[key] = Statement.objects.create(project=project, period_start=T0 - timedelta(days=31),
                                                   period_end=T0, revision=1, status="issued", total=0)
    plan = RatePlan.objects.create(name="standard")
    return World(a=a, b=b, users=users, token=token, write_token=write_token, account=fake_account,
                 resources=resources, memberships={"A": m_a, "B": m_b}, run=run, breaches=breaches,
                 requests=requests, statements=statements, plan=plan,
                 subscriptions=subscriptions, alerts=alerts)


@pytest.fixture
def eager_tasks():
    """Celery tasks run in this process (a refresh started through the API really happens)."""
    from portal.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before

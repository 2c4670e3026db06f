"""The all-projects home: staff land on it and see what needs attention; members land on their
project's overview."""

from decimal import Decimal

import pytest
from django.utils import timezone

from metering.chargeback.costs import month_of
from metering.models import BudgetAlert, CollectionState, QuotaBreach, Resource

pytestmark = pytest.mark.django_db


def test_staff_land_on_the_all_projects_home(as_user, dashboard):
    account = dashboard["account"]
    CollectionState.objects.filter(account=account).update(health="unhealthy")
    QuotaBreach.objects.create(project=dashboard["beta"], key="vms", limit=0, used=1, over_by=1,
                               opened_at=timezone.now())
    Resource.objects.filter(name="alpha-data").update(project=None)
    BudgetAlert.objects.create(project=dashboard["alpha"], period_start=month_of(timezone.now())[0],
                               basis="forecast", threshold=90, budget=Decimal(100), amount=Decimal("93.50"),
                               currency="EUR", fired_at=timezone.now())
    page = as_user("staff").get("/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<h1>All projects" in text and 'id="home-totals"' in text
    assert "1 unhealthy provider</a>: fake1" in text
    assert "1 open breach</a>: beta VMs" in text
    assert 'href="/inventory/?unassigned=true">1 resource without a project' in text
    assert "Alpha</a>: month-end forecast reached 90% (93.50 of 100.00 EUR)" in text
    assert 'id="top-usage"' in text  # the dashboard's VMs ran this month


def test_members_land_on_their_project(as_user, dashboard):
    assert as_user("viewer").get("/")["Location"] == "/projects/alpha/"


def test_the_inventory_finds_unassigned_resources(as_user, dashboard):
    Resource.objects.filter(name="alpha-data").update(project=None)
    page = as_user("staff").get("/inventory/?unassigned=true").content.decode()
    assert "alpha-data" in page and "alpha-web" not in page
    api = as_user("staff").get("/api/v1/resources/?unassigned=true").json()
    assert {r["name"] for r in api["results"]} >= {"alpha-data"} and "alpha-web" not in str(api)

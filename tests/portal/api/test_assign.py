"""``POST /api/v1/resources/assign/``: the inventory's assign-in-place service through the API."""

from datetime import timedelta

import pytest

from metering import collector
from metering.models import MappingRule
from tests.conftest import T0

pytestmark = pytest.mark.django_db


def test_staff_assigns_an_unassigned_resource_and_the_next_refresh_keeps_it(api_world, world):
    stray = api_world.resources["U"]
    response = api_world.client("staff").post("/api/v1/resources/assign/",
                                              {"resources": [stray.pk], "project": "alpha"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"project": "alpha", "resources": 1, "rules": 1}
    rule = MappingRule.objects.get()
    assert (rule.source, rule.value, rule.account_id) == ("hint", "nobody-knows", api_world.account.pk)
    world.now = T0 + timedelta(hours=3)
    collector.refresh(api_world.account)
    stray.refresh_from_db()
    assert stray.project.slug == "alpha"
    # the ledger splits at the refresh that observed the new project
    projects = list(stray.segments.order_by("start").values_list("project__slug", flat=True))
    assert projects[-1] == "alpha" and set(projects[:-1]) == {None}


def test_bad_input_says_what_was_wrong(api_world):
    client = api_world.client("staff")
    response = client.post("/api/v1/resources/assign/", {"resources": [999999], "project": "alpha"}, format="json")
    assert response.status_code == 400 and "no live resource with id 999999" in response.content.decode()
    response = client.post("/api/v1/resources/assign/", {"resources": [], "project": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "resources" in str(body) and "project" in str(body)

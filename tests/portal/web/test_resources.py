"""Resource detail: properties, utilization charts from rollups, history, and actions by role."""

import json
import re
from datetime import timedelta

import pytest

from metering.models import RefreshRun, Resource
from providers.base import State

pytestmark = pytest.mark.django_db


def chart(content: bytes, chart_id: str) -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', content.decode(), re.S)
    assert match, f"no json_script {chart_id}"
    return json.loads(match.group(1))


def pk(name):
    return Resource.objects.get(name=name).pk


def test_detail_shows_properties_and_utilization_from_rollups(as_user, dashboard):
    page = as_user("viewer").get(f"/resources/{pk('alpha-web')}/?window=7d")
    assert page.status_code == 200
    content = page.content.decode()
    assert "env" in content and "prod" in content and "host-1" not in content  # the host is staff-only
    cpu = chart(page.content, "chart-cpu")
    assert cpu["type"] == "line" and cpu["labels"] == ["11-01 00:00", "11-01 01:00", "11-01 02:00"]
    # 150 s of CPU per 300 s on 2 vCPUs = 25 %
    assert [round(v) for v in cpu["datasets"][0]["data"][1:]] == [25, 25]
    memory = chart(page.content, "chart-memory")
    assert memory["datasets"][1]["label"] == "peak" and max(memory["datasets"][1]["data"]) == round(1264 / 1024, 3)  # GiB
    assert memory["unit"] == "GiB" and memory["title"].startswith("Memory used, GiB")


def test_history_says_what_changed_when(as_user, dashboard):
    content = as_user("viewer").get(f"/resources/{pk('alpha-db')}/").content.decode()
    assert "state running → stopped" in content and "first observed" in content
    assert content.index("state running → stopped") < content.index("first observed")  # newest first


def test_viewer_sees_no_action_buttons_and_cannot_post_one(as_user, dashboard):
    client = as_user("viewer")
    assert b'name="action"' not in client.get(f"/resources/{pk('alpha-web')}/").content
    assert client.post(f"/resources/{pk('alpha-web')}/action/", {"action": "stop"}).status_code == 403
    assert dashboard["world"].resources["va1"].state == State.RUNNING


def test_member_stops_a_vm_through_the_task_which_then_refreshes(as_user, dashboard, eager_tasks):
    client = as_user("member")
    url = f"/resources/{pk('alpha-web')}/"
    content = client.get(url).content.decode()
    # a running VM offers what makes sense while it runs: no Start
    assert all(f'value="{a}"' in content for a in ("stop", "reboot", "delete"))
    assert 'value="start"' not in content
    dashboard["world"].now += timedelta(minutes=5)  # the refresh after the action observes a newer clock
    response = client.post(url + "action/", {"action": "stop"}, follow=True)
    assert response.redirect_chain[-1][0] == url and b"Stop requested for alpha-web" in response.content
    # the task ran and its refresh observed the result: no pending badge, Start offered now
    assert b"pending-action" not in response.content and b'value="start"' in response.content
    assert b'value="stop"' not in response.content
    assert dashboard["world"].resources["va1"].state == State.STOPPED
    assert RefreshRun.objects.filter(trigger="action").exists()


def test_unknown_action_and_get_are_refused(as_user, dashboard):
    client = as_user("member")
    assert client.post(f"/resources/{pk('alpha-web')}/action/", {"action": "explode"}).status_code == 400
    assert client.get(f"/resources/{pk('alpha-web')}/action/").status_code == 405
    assert client.post(f"/resources/{pk('alpha-data')}/action/", {"action": "stop"}).status_code == 400  # a volume


def test_csrf_is_required_for_actions(dashboard):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(dashboard["users"]["member"])
    assert client.post(f"/resources/{pk('alpha-web')}/action/", {"action": "stop"}).status_code == 403


@pytest.fixture
def fresh_cache():
    """Pending actions live in the cache; resource ids repeat between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_a_requested_action_is_pending_until_observed_and_a_failure_is_shown(as_user, dashboard, monkeypatch,
                                                                             fresh_cache):
    from metering import actions, tasks

    monkeypatch.setattr(tasks.resource_action, "delay", lambda *a, **k: None)  # the worker has not run yet
    client = as_user("member")
    url = f"/resources/{pk('alpha-web')}/"
    content = client.post(url + "action/", {"action": "stop"}, follow=True).content.decode()
    assert "Stop pending since" in content and 'value="reboot"' not in content
    assert '<meta http-equiv="refresh" content="5">' in content
    actions._fail_pending(pk("alpha-web"), "domain is locked")
    content = client.get(url).content.decode()
    assert "Stop failed: domain is locked" in content and 'value="stop"' in content
    assert 'http-equiv="refresh"' not in content

"""Cost by label page: groups every visible project's cost by a key, CSV equals the table, bad keys
are a message, members see only their projects."""

import csv
import io

import pytest

from metering.models import Resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(dashboard):
    Resource.objects.filter(project=dashboard["alpha"]).update(labels={"team": "web"})
    return dashboard


def test_grouped_page_and_csv(as_user, labelled):
    staff = as_user("staff")
    page = staff.get("/chargeback/labels/?key=team").content.decode()
    assert 'id="label-table"' in page and "<th scope=\"row\">web</th>" in page and "(unlabelled)" in page
    response = staff.get("/chargeback/labels/?key=team&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "team" and rows[-1][0] == "Total"
    assert {r[0] for r in rows[1:-1]} >= {"web", "(unlabelled)"}


def total_resources(client) -> int:
    text = b"".join(client.get("/chargeback/labels/?key=team&format=csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    return int(rows[-1][1])


def test_members_see_only_their_projects(as_user, labelled):
    assert "your projects" in as_user("viewer").get("/chargeback/labels/?key=team").content.decode()
    assert total_resources(as_user("viewer")) == 4  # alpha's VMs, container and volume
    assert total_resources(as_user("staff")) == 5  # and beta's VM


def test_bad_keys_and_missing_keys(as_user, labelled):
    staff = as_user("staff")
    assert "give a label key" in staff.get("/chargeback/labels/?format=csv").content.decode()
    assert staff.get("/chargeback/labels/?format=csv").status_code == 400
    page = staff.get("/chargeback/labels/?key=" + "x" * 300)
    assert page.status_code == 200 and "label key too long" in page.content.decode()
    bad_month = staff.get("/chargeback/labels/?key=team&period=9999-99")
    assert bad_month.status_code == 200 and "expected a month as YYYY-MM" in bad_month.content.decode()

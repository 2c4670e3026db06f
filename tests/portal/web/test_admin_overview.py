"""Admin overview (staff): every project's usage for a period, and the same rows as CSV."""

import csv
import io
import re
from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db

PERIOD = "?start=2026-11-01&end=2026-11-01"


def test_every_project_with_its_usage(as_user, dashboard):
    page = as_user("staff").get("/admin-overview/" + PERIOD)
    content = page.content.decode()
    body = content.split('id="admin-usage-table"', 1)[1].split("</tbody>", 1)[0]
    assert re.findall(r'<a href="/projects/([a-z-]+)/">', body) == ["alpha", "beta"]
    assert page.context["rows"][0]["values"][2] == 13  # alpha vCPU-hours
    assert page.context["rows"][1]["values"][2] == 4  # beta: 2 vCPUs x 2 h


def test_csv_has_the_same_rows(as_user, dashboard):
    client = as_user("staff")
    page = client.get("/admin-overview/" + PERIOD)
    response = client.get("/admin-overview/" + PERIOD + "&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Project")
    assert [(r[0], r[2]) for r in rows[header + 1:]] == [
        (r["slug"], str(r["resources"])) for r in page.context["rows"]]
    assert Decimal(rows[header + 1][5]) == 13


def test_invalid_period_is_inline(as_user, dashboard):
    client = as_user("staff")
    page = client.get("/admin-overview/?start=2026-02-30")
    assert page.status_code == 200 and b"expected a date as YYYY-MM-DD" in page.content
    assert client.get("/admin-overview/?start=2026-02-30&format=csv").status_code == 400

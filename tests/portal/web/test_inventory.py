"""Inventory: filters from ResourceFilterSet, search by label, sorting, paging, the tree."""

import re

import pytest

pytestmark = pytest.mark.django_db


def names(content: bytes) -> list[str]:
    body = content.decode().split('id="inventory-table"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"[^>]*><a href="/resources/\d+/">([^<]+)</a>', body)


def test_filters_by_kind_state_project_and_provider(as_user, dashboard):
    client = as_user("staff")
    assert names(client.get("/inventory/?kind=vm").content) == ["alpha-db", "alpha-web", "beta-batch"]
    assert names(client.get("/inventory/?state=stopped").content) == ["alpha-db"]
    assert names(client.get("/inventory/?project=beta&provider=fake1").content) == ["beta-batch"]


def test_search_matches_names_and_labels(as_user, dashboard):
    client = as_user("viewer")
    assert names(client.get("/inventory/?q=prod").content) == ["alpha-web"]
    assert names(client.get("/inventory/?q=WORK").content) == ["alpha-worker"]
    assert names(client.get("/inventory/?label=env%3Dprod").content) == ["alpha-web"]


def test_viewer_naming_another_project_gets_a_field_error_not_its_rows(as_user, dashboard):
    page = as_user("viewer").get("/inventory/?project=beta")
    assert page.status_code == 200 and b"beta-batch" not in page.content
    assert b"Select a valid choice" in page.content


def test_sorting_and_paging(as_user, dashboard, monkeypatch):
    from portal.web import inventory

    client = as_user("staff")
    assert names(client.get("/inventory/?sort=-name").content)[:2] == ["host-1", "beta-batch"]
    assert names(client.get("/inventory/?sort=vcpus&kind=vm").content) == ["alpha-web", "beta-batch", "alpha-db"]
    monkeypatch.setattr(inventory, "PAGE_SIZE", 2)
    first = client.get("/inventory/?sort=name")
    second = client.get("/inventory/?sort=name&page=2")
    assert names(first.content) == ["alpha-data", "alpha-db"] and names(second.content) == ["alpha-web", "alpha-worker"]
    assert b"Page 1 of 3" in first.content and b'rel="next"' in first.content


def test_tree_nests_host_vm_container(as_user, dashboard):
    content = as_user("staff").get("/inventory/tree/").content.decode()
    host = content.index("host-1")
    web = content.index("alpha-web")
    worker = content.index("alpha-worker")
    assert host < web < worker
    # the container sits in a list nested inside alpha-web's item
    between = content[web:worker]
    assert "<ul>" in between and "</li>" not in between


def test_tree_for_a_viewer_starts_at_what_they_may_see(as_user, dashboard):
    content = as_user("viewer").get("/inventory/tree/").content.decode()
    assert "host-1" not in content and "alpha-web" in content and "beta-batch" not in content


def test_no_providers_empty_state_says_what_to_do(client, db):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("boss", is_staff=True))
    assert b"No resources yet" in client.get("/inventory/").content
    assert b"No providers yet:" in client.get("/providers/").content

"""Who sees which page: anonymous users log in, viewers see their projects only (404 elsewhere),
staff see everything, staff pages are refused to others, navigation follows the role."""

import pytest

from metering.models import Resource

pytestmark = pytest.mark.django_db

PAGES = ["/", "/projects/alpha/", "/inventory/", "/inventory/tree/", "/providers/", "/providers/add/",
         "/admin-overview/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, dashboard, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_anonymous_resource_detail_redirects_to_login(client, dashboard):
    pk = Resource.objects.get(name="alpha-web").pk
    assert client.get(f"/resources/{pk}/")["Location"].startswith("/login/")


def test_login_page_is_styled_and_signs_in(client, dashboard):
    page = client.get("/login/")
    assert page.status_code == 200 and b"glasspane.css" in page.content and b"Sign in to Glasspane" in page.content
    response = client.post("/login/", {"username": "vera", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert client.get("/", follow=True).redirect_chain[-1][0] == "/projects/alpha/"


def test_viewer_sees_alpha_and_gets_404_on_beta(as_user, dashboard):
    client = as_user("viewer")
    page = client.get("/projects/alpha/")
    assert page.status_code == 200 and b"alpha-web" in page.content and b"beta-batch" not in page.content
    assert client.get("/projects/beta/").status_code == 404
    assert client.get("/projects/beta/?format=csv").status_code == 404
    beta_vm = Resource.objects.get(name="beta-batch")
    host = Resource.objects.get(name="host-1")
    assert client.get(f"/resources/{beta_vm.pk}/").status_code == 404
    assert client.get(f"/resources/{host.pk}/").status_code == 404  # no project: staff only


def test_viewer_inventory_lists_only_their_projects(as_user, dashboard):
    content = as_user("viewer").get("/inventory/").content.decode()
    assert "alpha-web" in content and "alpha-data" in content
    assert "beta-batch" not in content and "host-1" not in content


def test_staff_pages_are_refused_to_members(as_user, dashboard):
    client = as_user("member")
    for url in ("/providers/", "/providers/add/", "/admin-overview/", f"/providers/{dashboard['account'].pk}/edit/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/providers/{dashboard['account'].pk}/refresh/").status_code == 403


def test_staff_sees_every_project_and_unassigned_resources(as_user, dashboard):
    client = as_user("staff")
    assert b"beta-batch" in client.get("/projects/beta/").content
    inventory = client.get("/inventory/").content.decode()
    assert "host-1" in inventory and "beta-batch" in inventory and "alpha-web" in inventory


def test_navigation_follows_the_role(as_user, dashboard):
    viewer = as_user("viewer").get("/projects/alpha/").content.decode()
    assert "Inventory" in viewer and "Providers" not in viewer and "Admin overview" not in viewer
    assert "Viewer of alpha" in viewer
    staff = as_user("staff").get("/projects/alpha/").content.decode()
    assert all(label in staff for label in ("Providers", "Admin overview", "Django admin"))


def test_project_switcher_lists_only_visible_projects(as_user, dashboard):
    content = as_user("viewer").get("/projects/alpha/").content.decode()
    assert 'href="/projects/alpha/"' in content and 'href="/projects/beta/"' not in content


def test_outsider_gets_an_empty_state_that_says_what_to_do(as_user, dashboard):
    page = as_user("outsider").get("/")
    assert page.status_code == 200 and b"not a member of any project yet" in page.content


def test_home_returns_to_the_last_project_opened(as_user, dashboard):
    from metering.models import Membership

    Membership.objects.create(user=dashboard["users"]["member"], project=dashboard["beta"], role="viewer")
    client = as_user("member")
    client.get("/projects/beta/")
    assert client.get("/")["Location"] == "/projects/beta/"

"""Project members: project admins (of their own project) and staff list, add, re-role and remove
members; viewers and members get 403, users outside the project 404."""

import pytest

from metering.models import Membership

pytestmark = pytest.mark.django_db

URL = "/projects/alpha/members/"


@pytest.fixture
def project_admin(dashboard):
    from django.contrib.auth import get_user_model

    from tests.portal.web.conftest import PASSWORD

    user = get_user_model().objects.create_user("ada", password=PASSWORD)
    Membership.objects.create(user=user, project=dashboard["alpha"], role="admin")
    return user


def test_who_may_open_the_page(client, as_user, dashboard, project_admin):
    assert client.get(URL)["Location"].startswith("/login/?next=")
    assert as_user("viewer").get(URL).status_code == 403
    assert as_user("member").get(URL).status_code == 403
    assert as_user("member").post(URL, {"action": "add", "username": "otto", "role": "admin"}).status_code == 403
    assert as_user("outsider").get(URL).status_code == 404
    assert as_user("staff").get("/projects/beta/members/").status_code == 200
    client.force_login(project_admin)
    page = client.get(URL).content.decode()
    assert [r for r in ("ada", "mia", "vera") if f'id="member-{r}"' in page] == ["ada", "mia", "vera"]
    assert "Project admin" in page and "(you)" in page
    assert client.get("/projects/beta/members/").status_code == 404  # their own project only
    assert not Membership.objects.filter(user__username="otto").exists()


def test_navigation_shows_members_to_admins_only(client, as_user, dashboard, project_admin):
    assert "/projects/alpha/members/" not in as_user("member").get("/projects/alpha/").content.decode()
    client.force_login(project_admin)
    nav = client.get("/projects/alpha/").content.decode().split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    assert "/projects/alpha/members/" in nav and "/projects/alpha/chargeback/" in nav and "/quotas/" not in nav


def test_add_change_role_and_remove(client, dashboard, project_admin):
    client.force_login(project_admin)
    response = client.post(URL, {"action": "add", "username": "otto", "role": "member"}, follow=True)
    assert b"Added otto to alpha as member." in response.content
    otto = Membership.objects.get(user__username="otto", project=dashboard["alpha"])
    assert otto.role == "member"
    client.post(URL, {"action": "role", "membership": otto.pk, "role": "viewer"})
    otto.refresh_from_db()
    assert otto.role == "viewer"
    client.post(URL, {"action": "remove", "membership": otto.pk})
    assert not Membership.objects.filter(pk=otto.pk).exists()


def test_bad_input_is_a_field_error(client, dashboard, project_admin):
    client.force_login(project_admin)
    unknown = client.post(URL, {"action": "add", "username": "nobody", "role": "viewer"})
    assert unknown.status_code == 200 and b"no user named &#x27;nobody&#x27;" in unknown.content
    twice = client.post(URL, {"action": "add", "username": "vera", "role": "admin"})
    assert b"vera is already a viewer of alpha" in twice.content
    bad_role = client.post(URL, {"action": "add", "username": "otto", "role": "owner"})
    assert b"Select a valid choice." in bad_role.content
    assert Membership.objects.filter(project=dashboard["alpha"]).count() == 3


def test_admins_cannot_change_their_own_or_other_projects_memberships(client, as_user, dashboard, project_admin):
    own = Membership.objects.get(user=project_admin)
    client.force_login(project_admin)
    assert client.post(URL, {"action": "remove", "membership": own.pk}).status_code == 403
    assert client.post(URL, {"action": "role", "membership": own.pk, "role": "viewer"}).status_code == 403
    beta = Membership.objects.create(user=dashboard["users"]["outsider"], project=dashboard["beta"])
    assert client.post(URL, {"action": "remove", "membership": beta.pk}).status_code == 404
    assert Membership.objects.filter(pk__in=[own.pk, beta.pk]).count() == 2
    # staff may change anyone's (with a second admin: a project keeps at least one)
    Membership.objects.filter(user=dashboard["users"]["member"], project=dashboard["alpha"]).update(role="admin")
    as_user("staff").post(URL, {"action": "role", "membership": own.pk, "role": "member"})
    own.refresh_from_db()
    assert own.role == "member"

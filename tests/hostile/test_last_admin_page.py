"""The members page keeps a project's last admin too (issue 17, item 8): the rule the API follows."""

import pytest
from django.test import Client

from metering.models import Membership

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action", ["remove", "role"])
def test_staff_cannot_remove_or_demote_the_last_admin_on_the_page(api_world, action):
    own = Membership.objects.get(project=api_world.a, user=api_world.users["admin"])
    client = Client()
    client.force_login(api_world.users["staff"])
    response = client.post(f"/projects/{api_world.a.slug}/members/",
                           {"action": action, "membership": own.pk, "role": "viewer"}, follow=True)
    assert response.status_code == 200
    assert "admin" in response.content.decode().lower()
    own = Membership.objects.filter(pk=own.pk).first()
    assert own is not None and own.role == "admin"

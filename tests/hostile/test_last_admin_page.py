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


def test_django_admin_keeps_the_last_admin_too(api_world):
    from django.contrib.auth import get_user_model

    own = Membership.objects.get(project=api_world.a, user=api_world.users["admin"])
    others = list(Membership.objects.filter(project=api_world.a).exclude(pk=own.pk).order_by("pk"))
    superuser = get_user_model().objects.create_superuser("root", "r@example.net", "pw")
    client = Client()
    client.force_login(superuser)
    url = f"/admin/metering/project/{api_world.a.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items()
            if not isinstance(value, list | dict)}
    data.update({"slug": api_world.a.slug, "name": api_world.a.name})
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        prefix = fs.prefix
        data.update({f"{prefix}-TOTAL_FORMS": str(len(fs.forms)), f"{prefix}-INITIAL_FORMS": str(fs.initial_form_count()),
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
        for i, sub in enumerate(fs.forms):
            for name, field in sub.fields.items():
                value = sub.initial.get(name, field.initial)
                value = getattr(value, "pk", value)
                data[f"{prefix}-{i}-{name}"] = "" if value is None else value
            if fs.model is Membership and sub.instance.pk == own.pk:
                data[f"{prefix}-{i}-role"] = "viewer"
    response = client.post(url, data)
    assert response.status_code == 200, response.status_code  # the form again, with the error
    assert "keeps at least one admin" in response.content.decode()
    own.refresh_from_db()
    assert own.role == "admin" and len(others) == Membership.objects.filter(project=api_world.a).count() - 1

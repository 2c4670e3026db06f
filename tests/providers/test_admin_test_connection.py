"""Django admin's Test connection: an action on the provider list and a button on an account's page,
both through ``providers.connection_check``; each account's answer is a message, nothing is saved."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from providers.base import ProviderAuthError
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-1"))
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_action_reports_each_selected_account(admin_client, make_account, world, request):
    good = make_account(name="good", world_name=request.node.name)
    bad = make_account(name="bad", world_name="nowhere")
    before = list(ProviderAccount.objects.order_by("pk").values())
    response = admin_client.post("/admin/providers/provideraccount/", {
        "action": "test_connection", "_selected_action": [good.pk, bad.pk]}, follow=True)
    assert response.status_code == 200
    assert sorted(messages_of(response)) == [
        "bad: Cannot reach the provider: fake world 'nowhere' does not exist",
        f"good: Connected to fake 1.0 at world {request.node.name}: 0 resources, 0 projects"]
    assert list(ProviderAccount.objects.order_by("pk").values()) == before


def test_the_button_on_an_account_page(admin_client, make_account, world, request):
    account = make_account(name="acc", world_name=request.node.name)
    page = admin_client.get(f"/admin/providers/provideraccount/{account.pk}/change/")
    assert f'href="/admin/providers/provideraccount/{account.pk}/test-connection/"' in page.content.decode()
    world.fail = ProviderAuthError("the token was refused")
    response = admin_client.get(f"/admin/providers/provideraccount/{account.pk}/test-connection/", follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/providers/provideraccount/{account.pk}/change/"
    assert messages_of(response) == ["acc: Credentials refused: the token was refused"]


def test_an_account_of_an_uninstalled_kind_is_reported_not_raised(admin_client):
    gone = ProviderAccount.objects.create(name="legacy", kind="vsphere")
    response = admin_client.post("/admin/providers/provideraccount/", {
        "action": "test_connection", "_selected_action": [gone.pk]}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["legacy: the stored settings are not valid: kind: unknown provider kind "
                                     "'vsphere' (known: docker, fake, kubernetes, libvirt, lxd, openstack, proxmox)"]


def test_staff_without_admin_permissions_cannot_test(client, make_account, world, request):
    account = make_account(name="acc", world_name=request.node.name)
    client.force_login(get_user_model().objects.create_user("ops", password="pw-for-tests-1", is_staff=True))
    assert client.get(f"/admin/providers/provideraccount/{account.pk}/test-connection/").status_code == 403

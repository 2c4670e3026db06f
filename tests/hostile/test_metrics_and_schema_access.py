"""Who may read ``/metrics`` and the API schema (issue 17, item 11).

``GLASSPANE_METRICS_ACCESS``: ``open`` (development default), or ``restricted`` (production default):
then a scrape needs ``Authorization: Bearer <GLASSPANE_METRICS_TOKEN>`` or an address in
``GLASSPANE_METRICS_ALLOWED_NETWORKS``. ``GLASSPANE_API_SCHEMA``: ``public``, ``authenticated``
(production default) or ``off`` for ``/api/schema/`` and ``/api/docs/``.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "metrics-secret-0123456789"


def scrape(client, token=None, ip="192.0.2.10"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", REMOTE_ADDR=ip, **headers)


def test_open_metrics_answer_anyone(client, settings):
    settings.GLASSPANE_METRICS_ACCESS = "open"
    assert scrape(client).status_code == 200


def test_restricted_metrics_need_the_token_or_an_allowed_address(client, settings):
    settings.GLASSPANE_METRICS_ACCESS = "restricted"
    settings.GLASSPANE_METRICS_TOKEN = TOKEN
    settings.GLASSPANE_METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16", "2001:db8::/32"]
    assert scrape(client).status_code == 403
    assert scrape(client, token="wrong").status_code == 403
    ok = scrape(client, token=TOKEN)
    assert ok.status_code == 200 and b"glasspane_provider_up" in ok.content
    assert scrape(client, ip="10.20.3.4").status_code == 200
    assert scrape(client, ip="2001:db8::7").status_code == 200
    assert scrape(client, ip="10.21.0.1").status_code == 403


def test_restricted_without_token_or_networks_refuses_everyone(client, settings):
    settings.GLASSPANE_METRICS_ACCESS = "restricted"
    settings.GLASSPANE_METRICS_TOKEN = ""
    settings.GLASSPANE_METRICS_ALLOWED_NETWORKS = []
    assert scrape(client, token="").status_code == 403
    assert scrape(client, ip="127.0.0.1").status_code == 403


@pytest.mark.parametrize("mode,anon,user", [("public", 200, 200), ("authenticated", 401, 200), ("off", 404, 404)])
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_follow_their_setting(client, settings, django_user_model, mode, anon, user, url):
    settings.GLASSPANE_API_SCHEMA = mode
    assert client.get(url).status_code == anon
    client.force_login(django_user_model.objects.create_user("reader", password="x"))
    assert client.get(url).status_code == user


def test_production_defaults_restrict_both():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.production", "SECRET_KEY": "x" * 60,
           "GLASSPANE_CREDENTIAL_KEYS": "P8y2lQdE0pA2YwL3n2g9s0xq0m1R4yq3uKc7l0JtqWc=",
           "DATABASE_URL": "sqlite:////tmp/unused.sqlite3"}
    code = ("from django.conf import settings; "
            "print(settings.GLASSPANE_METRICS_ACCESS, settings.GLASSPANE_API_SCHEMA)")
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["restricted", "authenticated"], out.stderr
    assert importlib.import_module("portal.settings.base").GLASSPANE_METRICS_ACCESS == "open"

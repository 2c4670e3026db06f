"""``/metrics`` for Prometheus, computed from the database at scrape time.

A custom collector reads the provider accounts, the live inventory and the refresh runs on each
scrape, so every web process reports the same numbers (no per-process counters that reset on
restart or disagree between workers). The refresh-run counter counts the runs recorded in the
database; if old runs are ever pruned it drops, which Prometheus treats as a counter reset.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from metering.choices import AccountHealth
from metering.models import CollectionState, RefreshRun, Resource
from portal.authentication import client_ip
from providers.models import ProviderAccount


class GlasspaneCollector:
    def collect(self):
        up = GaugeMetricFamily("glasspane_provider_up", "1 if the account's last health check passed, else 0",
                               labels=["account", "kind"])
        duration = GaugeMetricFamily("glasspane_provider_last_refresh_duration_seconds",
                                     "Duration of the account's last finished refresh", labels=["account"])
        finished = GaugeMetricFamily("glasspane_provider_last_refresh_timestamp_seconds",
                                     "Unix time the account's last refresh finished", labels=["account"])
        enabled = GaugeMetricFamily("glasspane_provider_enabled", "1 if scheduled refreshes are on",
                                    labels=["account"])
        for account in ProviderAccount.objects.select_related("collection").order_by("name"):
            state = CollectionState.of(account)
            up.add_metric([account.name, account.kind], 1 if state.health == AccountHealth.OK else 0)
            enabled.add_metric([account.name], 1 if account.enabled else 0)
            if state.last_refresh_duration is not None:
                duration.add_metric([account.name], state.last_refresh_duration)
            if state.last_refresh_finished is not None:
                finished.add_metric([account.name], state.last_refresh_finished.timestamp())
        yield from (up, enabled, duration, finished)

        resources = GaugeMetricFamily("glasspane_resources", "Live (not deleted) resources",
                                      labels=["account", "kind", "state"])
        for row in (Resource.objects.live().values("account__name", "kind", "state")
                    .annotate(n=Count("id")).order_by("account__name", "kind", "state")):
            resources.add_metric([row["account__name"], row["kind"], row["state"]], row["n"])
        yield resources

        runs = CounterMetricFamily("glasspane_refresh_runs", "Refresh runs recorded, by final or current status",
                                   labels=["account", "status"])
        for row in (RefreshRun.objects.values("account__name", "status").annotate(n=Count("id"))
                    .order_by("account__name", "status")):
            runs.add_metric([row["account__name"], row["status"]], row["n"])
        yield runs


registry = CollectorRegistry(auto_describe=False)
registry.register(GlasspaneCollector())


def may_scrape(request) -> bool:
    """``GLASSPANE_METRICS_ACCESS``: open, or restricted to ``Authorization: Bearer <GLASSPANE_METRICS_TOKEN>``
    and the addresses in ``GLASSPANE_METRICS_ALLOWED_NETWORKS`` (restricted with neither: nobody)."""
    if settings.GLASSPANE_METRICS_ACCESS == "open":
        return True
    expected = settings.GLASSPANE_METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if expected and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(),
                                                                          expected.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    for network in settings.GLASSPANE_METRICS_ALLOWED_NETWORKS:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:  # a typo in the setting refuses, it never opens
            continue
    return False


def metrics(request):
    if not may_scrape(request):
        return HttpResponse("metrics: a bearer token or an allowed address is required\n", status=403,
                            content_type="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

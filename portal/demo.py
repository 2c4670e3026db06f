"""The demo ``make run`` seeds: every page meaningful at once.

A libvirt test-driver host with 40 domains in four projects, the OpenStack simulator's servers in
two projects, the local Docker-API engine's containers when one runs, the local LXD's when it is up, 60 days of usage history
behind them, one project near a limit, one in breach, a rate plan and an issued statement.
History before the first refresh is synthesised (closed segments and hourly rollups); everything
after it is collected for real.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from metering import collector
from metering.choices import Measure
from metering.models import (
    FixedCost,
    Project,
    QuotaDefault,
    Rate,
    RatePlan,
    Resource,
    UsageSegment,
    UtilizationRollup,
)
from providers.base import ProviderError
from providers.models import ProviderAccount

PROJECTS = ["webshop", "analytics", "ci", "research"]
HISTORY_DAYS = 60
RATES = {  # EUR
    Measure.VCPU_HOURS: "0.0150", Measure.RAM_GB_HOURS: "0.0040", Measure.DISK_GB_HOURS: "0.0002",
    Measure.CONTAINER_HOURS: "0.0010", Measure.INSTANCE_HOURS: "0.0050",
}


def libvirt_account(var: Path) -> ProviderAccount:
    from devsim.libvirt_nodes import write_node_xml

    path = var / "demo" / "kvm-lab.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        write_node_xml(path, 40, PROJECTS, seed=2026)
    account, _ = ProviderAccount.objects.get_or_create(
        name="kvm-lab", defaults={"kind": "libvirt", "settings": {"uri": f"test://{path}"}, "refresh_interval": 60})
    return account


def openstack_account(auth_url: str) -> ProviderAccount:
    account = ProviderAccount.objects.filter(name="cloud").first()
    if account is None:
        account = ProviderAccount(name="cloud", kind="openstack", refresh_interval=120,
                                  settings={"auth_url": auth_url, "auto_create_projects": True})
        account.credentials = {"username": "admin", "password": "admin", "project_name": "admin"}
        account.save()
    return account


def kubernetes_account(server: str) -> ProviderAccount:
    """The simulated cluster ``make run`` starts (a few pods, two KubeVirt VMs; see devsim.kubernetes)."""
    from devsim.kubernetes.seed import ADMIN_TOKEN

    account = ProviderAccount.objects.filter(name="cluster").first()
    if account is None:
        account = ProviderAccount(name="cluster", kind="kubernetes", refresh_interval=60,
                                  settings={"server": server})
        account.credentials = {"token": ADMIN_TOKEN}
        account.save()
    return account


def docker_account(base_url: str) -> ProviderAccount:
    import docker

    client = docker.DockerClient(base_url=base_url, version="auto")
    try:
        present = {c.name for c in client.containers.list(all=True, filters={"label": "glasspane.demo=1"})}
        for name, project, cpus, mem in [("shop-web", "webshop", 0.5, "128m"), ("shop-worker", "webshop", 1, "256m"),
                                         ("ci-runner", "ci", None, None)]:
            if name in present:
                continue
            kwargs = {"nano_cpus": int(cpus * 1e9)} if cpus else {}
            if mem:
                kwargs["mem_limit"] = mem
            client.containers.run("localhost/busybox:latest", ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
                                  name=name, detach=True, network_mode="none",
                                  labels={"glasspane.project": project, "glasspane.demo": "1"}, **kwargs)
    finally:
        client.close()
    account, _ = ProviderAccount.objects.get_or_create(
        name="local-engine", defaults={"kind": "docker", "settings": {"base_url": base_url}, "refresh_interval": 60})
    return account


def lxd_account(socket: str) -> ProviderAccount:
    """The local LXD (``scripts/lxd-host.sh``) with two busybox containers of demo projects."""
    import pylxd

    client = pylxd.Client(endpoint=socket, timeout=60)
    present = {instance.name for instance in client.instances.all()}
    for name, project, limits in [("lab-notebook", "research", {"limits.cpu": "1", "limits.memory": "128MiB"}),
                                  ("etl-batch", "analytics", {})]:
        if name in present:
            continue
        instance = client.instances.create({"name": name, "source": {"type": "image", "alias": "busybox"},
                                            "config": {"user.glasspane.project": project, **limits}}, wait=True)
        instance.start(wait=True)
    account, _ = ProviderAccount.objects.get_or_create(
        name="local-lxd", defaults={"kind": "lxd", "refresh_interval": 60,
                                    "settings": {"endpoint": f"unix://{socket}", "default_image": "busybox"}})
    return account


def proxmox_account(address: str) -> ProviderAccount | None:
    """The demo Proxmox VE cluster served by ``devsim.proxmox`` (fakepve, test extra) at
    ``host:port:cafile``; its port and certificate change with every ``make run``."""
    host, port, cafile = (address.split(":", 2) + ["", ""])[:3]
    if not (host and port.isdigit() and cafile):
        return None
    settings_ = {"host": host, "port": int(port), "ca_bundle": cafile}
    account = ProviderAccount.objects.filter(name="pve-lab").first()
    if account is None:
        account = ProviderAccount(name="pve-lab", kind="proxmox", refresh_interval=60)
    account.settings = {**(account.settings or {}), **settings_}
    account.credentials = {"username": "root@pam", "password": "secret"}
    account.save()
    return account


def backfill(account: ProviderAccount, days: int = HISTORY_DAYS) -> int:
    """Synthesise history before the first observation of each resource: closed segments with an
    occasional resize or stop, and hourly rollups, so charts are not empty."""
    rng = random.Random(account.pk)
    segments, rollups = [], []
    for r in Resource.objects.filter(account=account, deleted_at__isnull=True).exclude(kind="host"):
        if UsageSegment.objects.filter(resource=r, start__lt=r.first_seen).exists():
            continue
        start = r.first_seen - timedelta(days=rng.randint(days // 3, days))
        cut = start + (r.first_seen - start) * rng.uniform(0.3, 0.8)
        size = dict(vcpus=r.vcpus, ram_mb=r.ram_mb, disk_gb=r.disk_gb)
        earlier = dict(size, vcpus=(r.vcpus / 2 if r.vcpus and r.vcpus >= 2 else r.vcpus))
        for lo, hi, sz, state in [(start, cut, earlier, "running"), (cut, r.first_seen, size, r.state)]:
            segments.append(UsageSegment(resource=r, account=account, kind=r.kind, project_id=r.project_id,
                                         state=state if state != "deleted" else "stopped", start=lo, end=hi,
                                         open=False, flavor=r.flavor, **sz))
        hour = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        cores = float(r.vcpus or 1)
        base = rng.uniform(5, 60)
        while hour < r.first_seen:
            pct = max(0.5, min(100.0, base + 25 * rng.random() * (1 if 8 <= hour.hour <= 18 else 0.3)))
            mem = float(r.ram_mb or 256) * rng.uniform(0.3, 0.8)
            rollups.append(UtilizationRollup(resource=r, hour=hour, samples=12, cpu_pct_avg=pct,
                                             cpu_pct_max=min(100.0, pct * 1.4), cpu_core_seconds=pct / 100 * cores * 3600,
                                             memory_avg_mb=mem, memory_max_mb=mem * 1.1, memory_mb_seconds=mem * 3600,
                                             net_bytes=rng.randint(10**6, 10**8), disk_bytes=rng.randint(10**6, 10**8)))
            hour += timedelta(hours=1)
    UsageSegment.objects.bulk_create(segments, batch_size=2000, ignore_conflicts=True)
    UtilizationRollup.objects.bulk_create(rollups, batch_size=5000, ignore_conflicts=True)
    return len(segments)


def rate_plan() -> RatePlan:
    plan, created = RatePlan.objects.get_or_create(name="Standard", defaults={"currency": "EUR", "is_default": True,
                                                                             "description": "Demo list prices"})
    if created:
        since = datetime(2020, 1, 1, tzinfo=UTC)
        Rate.objects.bulk_create([Rate(plan=plan, measure=m, unit_price=Decimal(p), effective_from=since)
                                  for m, p in RATES.items()])
        FixedCost.objects.get_or_create(project=Project.objects.get(slug="webshop"), name="Support contract",
                                        defaults={"monthly_amount": Decimal("120.00"), "effective_from": since})
    return plan


def quotas(admin) -> None:
    from metering.choices import ChangeSource
    from metering.quotas import project_usage, set_defaults, set_limits

    if not QuotaDefault.objects.exists():
        set_defaults({"vms": 20, "containers": 20, "vcpus": 64, "ram_mb": 131072, "disk_gb": 2000, "volumes": 10,
                      "budget": -1}, user=admin, source=ChangeSource.SYSTEM)
    webshop = Project.objects.get(slug="webshop")
    used = project_usage(webshop, budget=False)
    if not webshop.quotas.exists():  # near the limit: 85 % of vCPUs
        set_limits(webshop, {"vcpus": max(2, int(used["vcpus"].used / Decimal("0.85")) + 1), "budget": 500},
                   user=admin, source=ChangeSource.SYSTEM)
    analytics = Project.objects.get(slug="analytics")
    used = project_usage(analytics, budget=False)
    if not analytics.quotas.exists() and used["vms"].used > 1:  # in breach: fewer VMs allowed than it runs
        set_limits(analytics, {"vms": int(used["vms"].used) - 1}, user=admin, source=ChangeSource.SYSTEM)


def issued_statement(admin) -> None:
    from metering.chargeback import statements

    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (first - timedelta(days=1)).replace(day=1)
    project = Project.objects.get(slug="webshop")
    if statements.latest(project, last_month, first) is None:
        statements.issue(project, last_month, first, user=admin)


def seed(admin, *, openstack_url: str | None, docker_url: str | None, log=print,
         lxd_socket: str | None = None, kubernetes_url: str | None = None, proxmox: str | None = None) -> None:
    var = Path(settings.VAR_DIR)
    accounts = [libvirt_account(var)]
    if openstack_url:
        accounts.append(openstack_account(openstack_url))
    if kubernetes_url:
        accounts.append(kubernetes_account(kubernetes_url))
    if proxmox:
        pve = proxmox_account(proxmox)
        if pve is None:
            log(f"  pve-lab: {proxmox!r} is not host:port:cafile; going on without it")
        else:
            accounts.append(pve)
    if docker_url:
        import docker.errors

        try:
            accounts.append(docker_account(docker_url))
        except docker.errors.DockerException as exc:
            log(f"  local-engine: no Docker-API engine at {docker_url} ({exc}); going on without it")
    if lxd_socket:
        import pylxd.exceptions

        try:
            accounts.append(lxd_account(lxd_socket))
        except (pylxd.exceptions.LXDAPIException, pylxd.exceptions.ClientConnectionFailed, OSError) as exc:
            log(f"  local-lxd: no LXD at {lxd_socket} ({exc}); going on without it")
    for account in accounts:
        try:
            run = collector.refresh(account, trigger="demo")
            log(f"  {account.name}: {run.status} ({run.created} new)")
        except ProviderError as exc:  # the demo goes on without a provider that is down
            log(f"  {account.name}: not refreshed ({exc})")
        backfill(account)
    rate_plan()
    quotas(admin)
    for account in accounts:  # a second look opens the breach and settles the quotas
        try:
            collector.refresh(account, trigger="demo")
        except ProviderError as exc:
            log(f"  {account.name}: second refresh failed ({exc})")
    issued_statement(admin)

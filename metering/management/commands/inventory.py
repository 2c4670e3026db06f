"""``inventory``: list resources across providers, as a table or JSON."""

from __future__ import annotations

from metering.models import Project, Resource
from providers.management.base import GlasspaneCommand
from providers.models import ProviderAccount


def resource_json(r: Resource) -> dict:
    return {
        "provider": r.account.name,
        "provider_kind": r.account.kind,
        "external_id": r.external_id,
        "kind": r.kind,
        "name": r.name,
        "project": r.project.slug if r.project_id else None,
        "parent": r.parent.name if r.parent_id else None,
        "parent_external_id": r.parent.external_id if r.parent_id else None,
        "state": r.state,
        "vcpus": str(r.vcpus) if r.vcpus is not None else None,
        "ram_mb": r.ram_mb,
        "disk_gb": str(r.disk_gb) if r.disk_gb is not None else None,
        "image": r.image,
        "flavor": r.flavor,
        "labels": r.labels,
        "created_at": r.created_at,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "first_seen": r.first_seen,
        "last_seen": r.last_seen,
        "deleted_at": r.deleted_at,
    }


class Command(GlasspaneCommand):
    help = "List hosts, VMs, containers and volumes across every provider."

    def add_arguments(self, parser):
        parser.add_argument("--provider", metavar="NAME")
        parser.add_argument("--project", metavar="SLUG")
        parser.add_argument("--kind", choices=["host", "vm", "container", "volume"])
        parser.add_argument("--include-deleted", action="store_true")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, provider, project, kind, include_deleted, format, **opts):
        qs = Resource.objects.select_related("account", "project", "parent").order_by("account__name", "kind", "name")
        if provider:
            if not ProviderAccount.objects.filter(name=provider).exists():
                raise self.usage_error(f"--provider {provider!r}: no such provider account")
            qs = qs.filter(account__name=provider)
        if project:
            if not Project.objects.filter(slug=project).exists():
                raise self.usage_error(f"--project {project!r}: no such project")
            qs = qs.filter(project__slug=project)
        if kind:
            qs = qs.filter(kind=kind)
        if not include_deleted:
            qs = qs.filter(deleted_at__isnull=True)
        if format == "json":
            self.write_json([resource_json(r) for r in qs.iterator(chunk_size=2000)])
            return
        rows = [("PROVIDER", "KIND", "NAME", "PROJECT", "STATE", "VCPUS", "RAM_MB", "DISK_GB", "PARENT")]
        for r in qs:
            rows.append((r.account.name, r.kind, r.name, r.project.slug if r.project_id else "-", r.state,
                         "unlimited" if r.vcpus is None and r.kind == "container" else (r.vcpus or "-"),
                         "unlimited" if r.ram_mb is None and r.kind == "container" else (r.ram_mb or "-"),
                         r.disk_gb if r.disk_gb is not None else "-", r.parent.name if r.parent_id else "-"))
        if len(rows) == 1:
            self.stdout.write("no resources: add a provider and run `refresh --wait`")
            return
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

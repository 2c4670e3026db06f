"""``demo``: seed a demo that makes every page meaningful (idempotent; run by ``make run``)."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model

from metering.models import Membership, Project
from providers.management.base import GlasspaneCommand

DEMO_PROJECTS = [
    ("webshop", "Web shop", "The customer-facing shop and its databases"),
    ("analytics", "Analytics", "Batch jobs and dashboards"),
    ("ci", "CI runners", "Build and test runners"),
    ("research", "Research", "Experiments; billed as showback"),
]


def admin_password() -> str:
    path = settings.VAR_DIR / "admin_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(GlasspaneCommand):
    help = "Seed demo users, projects and provider accounts (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--openstack-url", help="auth URL of an OpenStack (simulator) to connect")
        parser.add_argument("--kubernetes-url", help="API server URL of the Kubernetes simulator to connect")
        parser.add_argument("--docker-url", help="a Docker-API engine to connect (default: $DOCKER_HOST)")
        parser.add_argument("--lxd-socket", help="a local LXD's unix socket to connect (default: $GLASSPANE_LXD_SOCKET)")
        parser.add_argument("--proxmox", help="a Proxmox VE (devsim.proxmox) to connect, host:port:cafile "
                                              "(default: $GLASSPANE_DEMO_PROXMOX)")
        parser.add_argument("--no-providers", action="store_true", help="users and projects only")

    def handle(self, *args, **opts):
        User = get_user_model()
        password = admin_password()
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created or not admin.check_password(password):
            admin.set_password(password)
            admin.is_staff = admin.is_superuser = True
            admin.save()
        for slug, name, description in DEMO_PROJECTS:
            project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
        viewer, created = User.objects.get_or_create(username="viewer")
        if created:
            viewer.set_password(password)
            viewer.save()
        Membership.objects.get_or_create(user=viewer, project=Project.objects.get(slug="webshop"),
                                         defaults={"role": "viewer"})
        if not opts["no_providers"]:
            from portal.demo import seed

            self.stdout.write("seeding providers and history:")
            seed(admin, openstack_url=opts["openstack_url"] or os.environ.get("GLASSPANE_DEMO_OPENSTACK_URL"),
                 docker_url=opts["docker_url"] or os.environ.get("DOCKER_HOST"), log=self.stdout.write,
                 lxd_socket=opts["lxd_socket"] or os.environ.get("GLASSPANE_LXD_SOCKET"),
                 kubernetes_url=opts["kubernetes_url"] or os.environ.get("GLASSPANE_DEMO_KUBERNETES_URL"),
                 proxmox=opts["proxmox"] or os.environ.get("GLASSPANE_DEMO_PROXMOX"))
        self.stdout.write(f"demo ready: admin login admin / {password}  (viewer login viewer / {password})")

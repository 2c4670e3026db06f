"""``project add SLUG [--name NAME]`` and ``project list``."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from metering.models import Project
from metering.models.tenancy import SLUG_VALIDATOR
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Add or list projects."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("slug")
        add.add_argument("--name")
        add.add_argument("--description", default="")
        lst = sub.add_parser("list")
        lst.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, action, **opts):
        if action == "add":
            slug = opts["slug"]
            try:
                SLUG_VALIDATOR(slug)
            except ValidationError as exc:
                raise self.usage_error(f"slug {slug!r}: {exc.messages[0]}") from None
            name_max = Project._meta.get_field("name").max_length
            if opts["name"] and len(opts["name"]) > name_max:
                raise self.usage_error(f"--name: at most {name_max} characters, got {len(opts['name'])}")
            description_max = Project._meta.get_field("description").max_length
            if description_max and len(opts["description"]) > description_max:
                raise self.usage_error(f"--description: at most {description_max} characters")
            if Project.objects.filter(slug=slug).exists():
                raise self.usage_error(f"slug {slug!r}: a project with this slug already exists")
            Project.objects.create(slug=slug, name=opts["name"] or slug, description=opts["description"])
            self.stdout.write(f"added project {slug!r}")
            return
        projects = Project.objects.order_by("slug")
        if opts["format"] == "json":
            self.write_json([{"slug": p.slug, "name": p.name, "description": p.description} for p in projects])
            return
        for p in projects:
            self.stdout.write(f"{p.slug:<24} {p.name}")

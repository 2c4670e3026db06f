"""API serializers: what each endpoint reads and writes.

Relations are written and shown by their natural keys (project slug, provider name, username), so
scripts never need database ids except for resources, memberships and runs. Choices of related
objects are scoped to what the caller may see, so naming an invisible project is the same 400 as
naming one that does not exist. Provider credentials are write-only: never returned.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from metering import access, periods
from metering.choices import Role
from metering.models import Membership, Project, RefreshRun, Resource, UtilizationRollup
from providers import registry
from providers.base import SettingsError
from providers.models import ProviderAccount

DECIMAL = {"max_digits": 30, "decimal_places": 6}


def _user(serializer):
    return serializer.context["request"].user


class VisibleProjectField(serializers.SlugRelatedField):
    """A project by slug, among those the caller may see (at least ``at_least``)."""

    def __init__(self, at_least: str = Role.VIEWER, **kwargs):
        self.at_least = at_least
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self):
        return access.visible_projects(self.context["request"].user, self.at_least)


# -- projects and memberships -----------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Project.objects.all(), required=False, allow_null=True,
        help_text="slug of the parent project (shown only when you may see it)",
    )
    role = serializers.SerializerMethodField(help_text="your role here: viewer, member, admin or staff")

    class Meta:
        model = Project
        fields = ["slug", "name", "description", "parent", "cost_centre", "billing_mode", "breach_policy",
                  "breach_webhook", "created_at", "role"]
        read_only_fields = ["created_at"]

    def get_role(self, project) -> str | None:
        roles = self.context.get("roles")
        if roles is not None and project.pk in roles:
            return roles[project.pk]
        return access.role(_user(self), project)

    def to_representation(self, project):
        data = super().to_representation(project)
        if project.parent_id and not _user(self).is_staff:
            if not access.has_role(_user(self), project.parent, Role.VIEWER):
                data["parent"] = None
        return data

    def validate_parent(self, parent):
        if parent is not None and self.instance is not None:
            node = parent
            while node is not None:
                if node.pk == self.instance.pk:
                    raise serializers.ValidationError("a project cannot be its own ancestor")
                node = node.parent
        return parent


class MembershipSerializer(serializers.ModelSerializer):
    project = VisibleProjectField(help_text="project slug; you must be its admin (or staff)")
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True))

    class Meta:
        model = Membership
        fields = ["id", "project", "user", "role", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple) and getattr(self.instance, "pk", None):
            # only the role changes; a different user or project is a new membership
            fields["project"].read_only = True
            fields["user"].read_only = True
        return fields


# -- providers -------------------------------------------------------------------------------------


class ProviderAccountSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=[], help_text="a driver kind from the glasspane.providers registry")
    settings = serializers.DictField(required=False, help_text="validated by the driver; see its settings schema")
    credentials = serializers.DictField(
        write_only=True, required=False,
        help_text="secrets (passwords, tokens); stored encrypted, never returned. Omit to keep the current ones.",
    )
    has_credentials = serializers.SerializerMethodField()

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "settings", "credentials", "has_credentials", "refresh_interval", "enabled",
                  "health", "health_message", "health_checked_at", "last_refresh_started", "last_refresh_finished",
                  "last_refresh_duration", "last_refresh_counts", "last_refresh_error", "created_at", "updated_at"]
        read_only_fields = ["health", "health_message", "health_checked_at", "last_refresh_started",
                            "last_refresh_finished", "last_refresh_duration", "last_refresh_counts",
                            "last_refresh_error", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        fields["kind"].choices = registry.kinds()
        if self.instance is not None and getattr(self.instance, "pk", None):
            fields["kind"].read_only = True  # a different kind is a different account
        return fields

    def get_has_credentials(self, account) -> bool:
        return bool(account.credentials_encrypted)

    def validate(self, attrs):
        kind = attrs.get("kind") or self.instance.kind
        driver_class = registry.driver_class(kind)
        settings = attrs.get("settings", self.instance.settings if self.instance else {})
        credentials = attrs.get("credentials")
        if credentials is None:
            credentials = self.instance.credentials if self.instance else {}
        try:
            cleaned_settings, cleaned_credentials = driver_class.validate(settings, credentials)
        except SettingsError as exc:
            secret = {s.name for s in driver_class.credentials_schema}
            errors: dict[str, dict[str, list[str]]] = {}
            for name, message in exc.errors.items():
                where = "credentials" if name in secret or name in credentials else "settings"
                errors.setdefault(where, {})[name] = [message]
            raise serializers.ValidationError(errors) from None
        attrs["settings"] = cleaned_settings
        attrs["credentials"] = cleaned_credentials
        return attrs

    def _save(self, account, validated_data):
        credentials = validated_data.pop("credentials")
        for name, value in validated_data.items():
            setattr(account, name, value)
        account.credentials = credentials
        account.save()
        return account

    def create(self, validated_data):
        return self._save(ProviderAccount(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


# -- inventory ---------------------------------------------------------------------------------------


class ResourceSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(source="account.name", read_only=True)
    provider_kind = serializers.CharField(source="account.kind", read_only=True)
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    parent = serializers.PrimaryKeyRelatedField(read_only=True, help_text="id of the parent resource")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), read_only=True)
    properties = serializers.DictField(read_only=True)

    class Meta:
        model = Resource
        fields = ["id", "name", "kind", "state", "provider", "provider_kind", "external_id", "project", "parent",
                  "vcpus", "ram_mb", "disk_gb", "image", "flavor", "labels", "properties", "created_at",
                  "started_at", "finished_at", "first_seen", "last_seen", "deleted_at"]
        read_only_fields = fields

    def to_representation(self, resource):
        data = super().to_representation(resource)
        # a parent in a project the caller cannot see (e.g. the host under a tenant's VM) stays hidden
        if resource.parent_id and not _user(self).is_staff:
            if resource.parent.project_id is None or not access.has_role(_user(self), resource.parent.project,
                                                                          Role.VIEWER):
                data["parent"] = None
        return data


class UtilizationRollupSerializer(serializers.ModelSerializer):
    class Meta:
        model = UtilizationRollup
        fields = ["hour", "samples", "cpu_pct_avg", "cpu_pct_max", "cpu_core_seconds", "memory_avg_mb",
                  "memory_max_mb", "memory_mb_seconds", "net_bytes", "disk_bytes"]


class UtilizationSerializer(serializers.Serializer):
    resource = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    hours = UtilizationRollupSerializer(many=True)


# -- periods and usage -------------------------------------------------------------------------------


class PeriodQuerySerializer(serializers.Serializer):
    """``start`` and ``end`` (exclusive) as YYYY-MM-DD, in ``tz`` (default UTC)."""

    start = serializers.DateField(input_formats=["iso-8601"])
    end = serializers.DateField(input_formats=["iso-8601"], help_text="exclusive")
    tz = serializers.CharField(required=False, help_text="IANA timezone of the dates, e.g. Europe/Berlin")

    def validate(self, attrs):
        try:
            zone = periods.parse_tz(attrs.get("tz"))
        except periods.PeriodError as exc:
            raise serializers.ValidationError({"tz": [str(exc).replace("--tz ", "")]}) from None
        try:
            attrs["range"] = periods.day_range(attrs["start"], attrs["end"], zone)
        except periods.PeriodError as exc:
            raise serializers.ValidationError({"end": [str(exc)]}) from None
        return attrs


class OptionalPeriodQuerySerializer(PeriodQuerySerializer):
    """Like ``PeriodQuerySerializer``; a missing end is tomorrow (UTC), a missing start a week before end."""

    start = serializers.DateField(input_formats=["iso-8601"], required=False)
    end = serializers.DateField(input_formats=["iso-8601"], required=False, help_text="exclusive")
    DEFAULT_DAYS = 7

    def validate(self, attrs):
        attrs.setdefault("end", timezone.now().date() + timedelta(days=1))
        attrs.setdefault("start", attrs["end"] - timedelta(days=self.DEFAULT_DAYS))
        return super().validate(attrs)


class ActiveSerializer(serializers.Serializer):
    vms = serializers.IntegerField()
    containers = serializers.IntegerField()
    running = serializers.IntegerField()
    vcpus = serializers.DecimalField(**DECIMAL)
    ram_mb = serializers.IntegerField()
    disk_gb = serializers.DecimalField(**DECIMAL)


class MeasuresField(serializers.DictField):
    child = serializers.DecimalField(**DECIMAL)


class ResourceUsageSerializer(serializers.Serializer):
    resource = serializers.IntegerField(source="resource_id")
    name = serializers.CharField()
    kind = serializers.CharField()
    provider = serializers.CharField()
    project = serializers.CharField(allow_null=True)
    vcpus = serializers.DecimalField(allow_null=True, **DECIMAL)
    ram_mb = serializers.IntegerField(allow_null=True)
    disk_gb = serializers.DecimalField(allow_null=True, **DECIMAL)
    state = serializers.CharField()
    flavor = serializers.CharField(allow_blank=True)
    estimated = serializers.BooleanField(help_text="some hours were counted across a gap nobody observed")
    measures = MeasuresField(help_text="measure -> quantity (hours, GiB-hours, GiB)")


class UsageReportSerializer(serializers.Serializer):
    project = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="exclusive")
    active = ActiveSerializer()
    totals = MeasuresField()
    resources = ResourceUsageSerializer(many=True, source="rows")


# -- refresh runs -----------------------------------------------------------------------------------


class RefreshRunSerializer(serializers.ModelSerializer):
    provider = serializers.SlugRelatedField(
        source="account", slug_field="name", queryset=ProviderAccount.objects.all(), help_text="provider account name"
    )
    issues = serializers.ListField(child=serializers.JSONField(), read_only=True)

    class Meta:
        model = RefreshRun
        fields = ["id", "provider", "status", "trigger", "queued_at", "started_at", "finished_at", "duration",
                  "observed_at", "created", "updated", "unchanged", "deleted", "samples", "issues", "error"]
        read_only_fields = [f for f in fields if f != "provider"]

"""API serializers: what each endpoint reads and writes.

Relations are written and shown by their natural keys (project slug, provider name, username), so
scripts never need database ids except for resources, memberships and runs. Choices of related
objects are scoped to what the caller may see, so naming an invisible project is the same 400 as
naming one that does not exist. Provider credentials are write-only: never returned.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from metering import access, launching, outbound, periods
from metering.chargeback.money import validate_currency
from metering.chargeback.rates import parse_tiers
from metering.choices import AccountHealth, QuotaKey, Role
from metering.models import (
    UNLIMITED,
    BudgetAlert,
    Membership,
    Project,
    ProvisionRequest,
    QuotaBreach,
    Rate,
    RatePlan,
    RefreshRun,
    ReportSubscription,
    Resource,
    Statement,
    UtilizationRollup,
)
from metering.quotas.admission import build_spec
from providers import registry
from providers.base import KIND_ALIASES, ProvisionSpec, SpecError
from providers.configure import ConfigurationError
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
        # with the caller's role: the view's role check on the project found costs no query
        return access.visible_projects(self.context["request"].user, self.at_least, with_role=True)


class NullableSlugField(serializers.SlugRelatedField):
    """DRF turns "" into null for an optional relation; here null means null and "" is an error."""

    def run_validation(self, data=serializers.empty):
        if data == "":
            self.fail("invalid")
        return super().run_validation(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF also takes 0, 1, "yes", "on"...)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


# -- strict JSON types: what the schema says is what is accepted ------------------------------------------
# DRF coerces generously (42 -> "42", "7" -> 7); a script sending the wrong type has a bug worth a 400.


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "expected a string"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictURLField(StrictCharField, serializers.URLField):
    pass


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"},
                                {"type": "number"}]})
class DecimalInputField(serializers.DecimalField):
    """A decimal given as a string ("0.5") or a JSON number (0.5); written back as a string."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.URLField: StrictURLField,
        models.IntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
        models.DecimalField: DecimalInputField,
    }


class FieldsBuiltOnce:
    """A model serializer whose fields depend on its ``Meta`` only builds them once per class and
    hands each instance a copy (DRF rebuilds every model field per instance: half of the cost of a
    provision request's serializer, which runs before every API admission)."""

    def get_fields(self):
        built = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built
        return copy.deepcopy(built)


# -- projects and memberships -----------------------------------------------------------------------


class ProjectSerializer(StrictModelSerializer):
    parent = NullableSlugField(
        slug_field="slug", queryset=Project.objects.all(), required=False, allow_null=True,
        help_text="slug of the parent project (shown only when you may see it)",
    )
    role = serializers.SerializerMethodField(help_text="your role here: viewer, member, admin or staff")
    breach_webhook = StrictURLField(required=False, allow_blank=True, allow_null=True, max_length=200,
                                    help_text="JSON POST on breach open/close; a secret: shown to the project's "
                                              "admins and staff, null to everyone else")

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

    def validate_breach_webhook(self, url):
        if url:
            try:  # a name that does not resolve now may later; a private address is refused at once
                outbound.check_url(url, resolve_failures_ok=True)
            except outbound.Refused as exc:
                raise serializers.ValidationError(str(exc)) from None
        return url or ""

    def to_representation(self, project):
        data = super().to_representation(project)
        if self.get_role(project) not in (Role.ADMIN, "staff"):
            data["breach_webhook"] = None  # its URL often carries a token
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


class MembershipSerializer(StrictModelSerializer):
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


class ProviderAccountSerializer(StrictModelSerializer):
    kind = serializers.ChoiceField(choices=[], help_text="a driver kind from the glasspane.providers registry")
    settings = serializers.DictField(required=False, help_text="validated by the driver; see its settings schema")
    credentials = serializers.DictField(
        child=StrictCharField(allow_blank=True, allow_null=True), write_only=True, required=False,
        help_text="secrets (passwords, tokens); stored encrypted, never returned. Omitted (or blank) ones are kept, "
                  "null removes one; all are dropped, and must be given again, when an endpoint setting changes.",
    )
    has_credentials = serializers.SerializerMethodField()
    enabled = StrictBooleanField(required=False, help_text="scheduled refreshes on")
    # what the collector last heard (metering.CollectionState), read-only
    health = serializers.ChoiceField(choices=AccountHealth.choices, source="collection.health", read_only=True)
    health_message = serializers.CharField(source="collection.health_message", read_only=True)
    health_checked_at = serializers.DateTimeField(source="collection.health_checked_at", read_only=True)
    last_refresh_started = serializers.DateTimeField(source="collection.last_refresh_started", read_only=True)
    last_refresh_finished = serializers.DateTimeField(source="collection.last_refresh_finished", read_only=True)
    last_refresh_duration = serializers.FloatField(source="collection.last_refresh_duration", read_only=True,
                                                   help_text="seconds")
    last_refresh_counts = serializers.DictField(source="collection.last_refresh_counts", read_only=True)
    last_refresh_error = serializers.CharField(source="collection.last_refresh_error", read_only=True)

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
        self._account = self.instance or ProviderAccount(kind=kind)
        try:
            self._account.configure(attrs.pop("settings", None), attrs.pop("credentials", None), kind=kind,
                                    save=False)
        except ConfigurationError as exc:
            raise serializers.ValidationError({where: {k: [v] for k, v in errors.items()} if isinstance(errors, dict)
                                               else [errors] for where, errors in exc.errors.items()}) from None
        return attrs

    def _save(self, account, validated_data):
        for name, value in validated_data.items():
            setattr(account, name, value)
        account.save()
        return account

    def create(self, validated_data):
        return self._save(self._account, validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class ConnectionTestSerializer(serializers.Serializer):
    """What ``providers/test-connection/`` checks: an account's kind, settings and credentials as
    they would be saved (``providers/{name}/test/`` takes the same fields, kind excepted, as a PATCH
    of the saved account would: omitted settings and blank credentials keep the stored ones)."""

    kind = serializers.ChoiceField(choices=[], help_text="a driver kind from the glasspane.providers registry")
    settings = serializers.DictField(required=False, help_text="validated by the driver; see its settings schema")
    credentials = serializers.DictField(
        child=StrictCharField(allow_blank=True, allow_null=True), required=False,
        help_text="secrets (passwords, tokens); used for the check only, never stored by it")

    def get_fields(self):
        fields = super().get_fields()
        fields["kind"].choices = registry.kinds()
        if self.context.get("account") is not None:
            del fields["kind"]  # a saved account keeps its kind
        return fields

    def to_internal_value(self, data):
        """Unknown fields are refused, not ignored: a test must check what the caller meant."""
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError({name: [f"unknown field (known: {known})"] for name in unknown})
        return super().to_internal_value(data)


class ProbeSerializer(serializers.Serializer):
    product = serializers.CharField(help_text="what answered: nova, libvirt, Docker Engine, LXD, Kubernetes...")
    version = serializers.CharField()
    where = serializers.CharField(help_text="the address that answered")
    host = serializers.CharField(help_text="the name the platform gives itself, if any")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="plural noun -> how many")
    capped = serializers.ListField(child=serializers.CharField(), help_text="counts that are a floor (one page read)")
    note = serializers.CharField()
    details = serializers.DictField()


class ConnectionCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    kind = serializers.CharField()
    problem = serializers.ChoiceField(
        choices=["credentials", "unreachable", "answer", "settings", "error"], allow_null=True,
        help_text="null when ok; else whose fault: credentials refused, provider unreachable (or no answer in "
                  "time), an unexpected answer, settings the driver cannot use, another refusal")
    message = serializers.CharField(help_text="one line: what was found, or the provider's own error")
    probe = ProbeSerializer(allow_null=True)
    seconds = serializers.FloatField()


# -- inventory ---------------------------------------------------------------------------------------


class ResourceSerializer(StrictModelSerializer):
    provider = serializers.CharField(source="account.name", read_only=True)
    provider_kind = serializers.CharField(source="account.kind", read_only=True)
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                           help_text="null: not assigned to a project (staff only see these)")
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True, help_text="id of the parent resource")
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


class UtilizationRollupSerializer(StrictModelSerializer):
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
    tz = StrictCharField(required=False, help_text="IANA timezone of the dates, e.g. Europe/Berlin")

    @staticmethod
    def _in_range(day, what):
        try:
            return periods.check_date(day, what)
        except periods.PeriodError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_start(self, day):
        return self._in_range(day, "start")

    def validate_end(self, day):
        return self._in_range(day, "end")

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


class RefreshRunSerializer(StrictModelSerializer):
    provider = serializers.SlugRelatedField(
        source="account", slug_field="name", queryset=ProviderAccount.objects.all(), help_text="provider account name"
    )
    issues = serializers.ListField(child=serializers.JSONField(), read_only=True)

    class Meta:
        model = RefreshRun
        fields = ["id", "provider", "status", "trigger", "queued_at", "started_at", "finished_at", "duration",
                  "observed_at", "created", "updated", "unchanged", "deleted", "samples", "issues", "error"]
        read_only_fields = [f for f in fields if f != "provider"]


# -- quotas ------------------------------------------------------------------------------------------


class NumberField(serializers.DecimalField):
    """A count or an amount as a decimal string, as exact as it is stored (no float ever)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=None, decimal_places=None, **kwargs)


class QuotaUsageSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=QuotaKey.choices)
    limit = serializers.IntegerField(help_text="-1 = unlimited")
    unlimited = serializers.BooleanField()
    used = NumberField()
    reserved = NumberField(help_text="held by admitted requests still being provisioned")
    available = NumberField(allow_null=True, help_text="null when unlimited")
    over = serializers.BooleanField()
    percent = NumberField(allow_null=True)


class QuotaScopeUsageSerializer(serializers.Serializer):
    account = serializers.CharField(allow_null=True, help_text="null: every provider account (global limits)")
    quotas = QuotaUsageSerializer(many=True)


class ProjectLimitsSerializer(serializers.Serializer):
    project = serializers.CharField()
    scopes = QuotaScopeUsageSerializer(many=True)


class QuotaPushStateSerializer(serializers.Serializer):
    """The last push of one key to one provider project (``metering.quotas.pushdown``)."""

    status = serializers.ChoiceField(choices=["applied", "not applied"])
    value = serializers.IntegerField(help_text="the limit pushed last (-1 = unlimited)")
    message = serializers.CharField(allow_blank=True, help_text="the provider's own message when not applied")
    at = serializers.DateTimeField(help_text="when it was tried")
    next_retry_at = serializers.DateTimeField(allow_null=True, help_text="null: applied, or given up")
    failures = serializers.IntegerField(help_text="failed attempts in a row for this value")
    retry = serializers.CharField(allow_blank=True)


class QuotaDriftRowSerializer(serializers.Serializer):
    account = serializers.CharField()
    external_id = serializers.CharField(help_text="the provider's project (a Keystone project id)")
    key = serializers.ChoiceField(choices=QuotaKey.choices)
    limit = serializers.IntegerField(allow_null=True, help_text="Glasspane's; null: not set, the provider's own stays")
    provider_limit = serializers.IntegerField(allow_null=True, help_text="null: not reported (yet)")
    used = NumberField()
    provider_used = NumberField(allow_null=True)
    limit_differs = serializers.BooleanField()
    usage_differs = serializers.BooleanField()
    push = QuotaPushStateSerializer(allow_null=True, help_text="null: never pushed")


class QuotaDriftSerializer(serializers.Serializer):
    project = serializers.CharField()
    rows = QuotaDriftRowSerializer(many=True)


class QuotaValuesSerializer(serializers.Serializer):
    """One optional value per quota key: an integer >= -1 (-1 = unlimited), or null (no own value)."""

    def get_fields(self):
        return {key: StrictIntegerField(min_value=UNLIMITED, allow_null=True, required=False,
                                              max_value=2**62, help_text=label)
                for key, label in QuotaKey.choices}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(QuotaKey.values))
            if unknown:
                raise serializers.ValidationError(
                    {k: [f"unknown quota key (known: {', '.join(QuotaKey.values)})"] for k in unknown})
        return super().to_internal_value(data)


class QuotaScopeSerializer(serializers.Serializer):
    account = serializers.CharField(allow_null=True, help_text="null: the global scope")
    limits = serializers.DictField(child=serializers.IntegerField(allow_null=True),
                                   help_text="the project's own values (null: the default applies)")
    effective = serializers.DictField(child=serializers.IntegerField(), help_text="what is enforced (-1 = unlimited)")


class ProjectQuotasSerializer(serializers.Serializer):
    project = serializers.CharField()
    scopes = QuotaScopeSerializer(many=True)


class QuotaChangeSerializer(serializers.Serializer):
    """PUT sets every key (a missing key loses its own value); PATCH sets the keys given."""

    provider = NullableSlugField(
        slug_field="name", queryset=ProviderAccount.objects.all(), required=False, allow_null=True,
        help_text="narrow the limits to one provider account (default: the global limits)",
    )
    limits = QuotaValuesSerializer()


class QuotaBreachSerializer(StrictModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    provider = serializers.SlugRelatedField(source="account", slug_field="name", read_only=True, allow_null=True)
    used = NumberField()
    over_by = NumberField()
    actions = serializers.ListField(child=serializers.JSONField(), read_only=True)

    class Meta:
        model = QuotaBreach
        fields = ["id", "project", "provider", "key", "limit", "used", "over_by", "opened_at", "closed_at",
                  "actions"]
        read_only_fields = fields


class ProvisionRequestSerializer(FieldsBuiltOnce, StrictModelSerializer):
    project = VisibleProjectField(help_text="project slug; you must be at least a member")
    provider = serializers.SlugRelatedField(source="account", slug_field="name",
                                            queryset=launching.with_tenancy(ProviderAccount.objects.all()),
                                            help_text="provider account name")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # what to create: built into the driver's ProvisionSpec by ProvisionSpec.parse (``validate``)
    name = StrictCharField(write_only=True, max_length=255, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=list(KIND_ALIASES))
    vcpus = DecimalInputField(max_digits=10, decimal_places=3, required=False, allow_null=True, write_only=True)
    ram_mb = StrictIntegerField(max_value=2**40, required=False, allow_null=True, write_only=True)
    disk_gb = DecimalInputField(max_digits=14, decimal_places=3, required=False, allow_null=True, write_only=True)
    image = StrictCharField(max_length=255, required=False, allow_blank=True, write_only=True)
    flavor = StrictCharField(max_length=255, required=False, allow_blank=True, write_only=True)
    command = serializers.ListField(child=StrictCharField(allow_blank=True), required=False, write_only=True)
    labels = serializers.DictField(child=StrictCharField(allow_blank=True), required=False, write_only=True)
    network = StrictCharField(max_length=255, required=False, allow_blank=True, write_only=True)
    spec = serializers.JSONField(read_only=True)
    resource = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:provision-request-detail",
                                               help_text="poll this for the request's state")

    class Meta:
        model = ProvisionRequest
        fields = ["id", "url", "project", "provider", "requested_by", "name", "kind", "vcpus", "ram_mb", "disk_gb",
                  "image", "flavor", "command", "labels", "network", "spec", "state", "message", "resource",
                  "created_at", "finished_at"]
        read_only_fields = ["id", "url", "requested_by", "spec", "state", "message", "resource", "created_at",
                            "finished_at"]

    def validate(self, attrs):
        """The request's fields as the driver's ``ProvisionSpec`` (``validated_data["spec"]``)."""
        fields = {k: attrs.pop(k) for k in ProvisionSpec.FIELDS if k in attrs}
        try:
            spec = build_spec(attrs.get("account"), fields)
        except SpecError as exc:
            raise serializers.ValidationError({k: [v] for k, v in exc.errors.items()}) from None
        return {**attrs, "spec": spec}


class QuotaRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="which limit refused the request, in Nova's wording")
    key = serializers.CharField()
    requested = NumberField()
    used = NumberField()
    limit = serializers.IntegerField()


class KeyImpactSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=QuotaKey.choices)
    account = serializers.CharField(allow_null=True, help_text="null: the global limits; else the account the "
                                                                "limit is narrowed to")
    limit = serializers.IntegerField(help_text="-1 = unlimited")
    unlimited = serializers.BooleanField()
    in_use = NumberField(help_text="used + reserved; for the budget, the month's forecast")
    reserved = NumberField()
    requested = NumberField(help_text="what the request adds; for the budget, its cost to the end of the month")
    after = NumberField()
    state = serializers.ChoiceField(choices=["ok", "near", "at", "over"], help_text="of after against limit")


class ProvisionPreviewSerializer(serializers.Serializer):
    fits = serializers.BooleanField()
    refusal = QuotaRefusalSerializer(allow_null=True, help_text="what a submission would be refused with now")
    currency = serializers.CharField(allow_blank=True, help_text="of the budget rows (empty: no rate plan)")
    spec = serializers.JSONField(help_text="the request as the driver would get it (a flavor's sizes filled in)")
    impacts = KeyImpactSerializer(many=True)


# -- chargeback --------------------------------------------------------------------------------------


class StatementSerializer(StrictModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:statement-detail")

    class Meta:
        model = Statement
        fields = ["id", "url", "project", "period_start", "period_end", "revision", "status", "currency",
                  "showback", "total", "issued_at", "created_at"]
        read_only_fields = fields


class StatementLineSerializer(serializers.Serializer):
    provider = serializers.CharField(allow_blank=True)
    resource = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    measure = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    start = serializers.CharField(allow_null=True)
    end = serializers.CharField(allow_null=True)
    quantity = serializers.CharField(allow_null=True)
    unit = serializers.CharField()
    unit_price = serializers.CharField(allow_null=True)
    amount = serializers.CharField(allow_null=True)
    estimated = serializers.BooleanField()
    exchange_rate = serializers.CharField(required=False, help_text="with ?currency: 1 statement currency = rate")
    rate_date = serializers.CharField(required=False, help_text="with ?currency: the day the rate is effective from")
    converted_amount = serializers.CharField(required=False, help_text="with ?currency: the amount converted")


class StatementDetailSerializer(serializers.Serializer):
    """The statement as ``metering.chargeback.export.statement_json`` gives it (numbers as strings)."""

    id = serializers.IntegerField()
    project = serializers.CharField()
    start = serializers.CharField()
    end = serializers.CharField()
    currency = serializers.CharField(allow_null=True)
    showback = serializers.BooleanField()
    revision = serializers.IntegerField()
    status = serializers.CharField()
    issued_at = serializers.CharField(allow_null=True)
    total = serializers.CharField(allow_null=True)
    subtotals = serializers.DictField()
    lines = StatementLineSerializer(many=True)
    rates = serializers.ListField(child=serializers.DictField())
    changes = serializers.DictField(required=False)
    report_currency = serializers.CharField(required=False, help_text="with ?currency")
    converted_total = serializers.CharField(required=False, help_text="with ?currency: the converted lines' sum")


class RateSerializer(StrictModelSerializer):
    provider = NullableSlugField(source="account", slug_field="name", queryset=ProviderAccount.objects.all(),
                                 required=False, allow_null=True,
                                            help_text="only this provider account (default: any)")
    unit_price = DecimalInputField(max_digits=18, decimal_places=8, min_value=Decimal(0))
    tiers = serializers.ListField(child=serializers.DictField(), required=False,
                                  help_text='[{"from": "0", "unit_price": "0.05"}, ...] by period quantity')

    class Meta:
        model = Rate
        fields = ["id", "measure", "unit_price", "effective_from", "effective_to", "provider_kind", "provider",
                  "flavor", "label_key", "label_value", "tiers"]
        read_only_fields = ["id"]

    def validate_tiers(self, tiers):
        try:
            parse_tiers(tiers)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return tiers

    def validate(self, attrs):
        end, start = attrs.get("effective_to"), attrs.get("effective_from")
        if end is not None and start is not None and end <= start:
            raise serializers.ValidationError({"effective_to": ["must be after effective_from"]})
        return attrs


class RatePlanSerializer(StrictModelSerializer):
    rates = RateSerializer(many=True, required=False, help_text="on write: replaces every rate of the plan")
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3, required=False, help_text="ISO 4217 code",
                                      validators=[validate_currency])
    is_default = StrictBooleanField(required=False, help_text="the site default plan (one at most)")

    class Meta:
        model = RatePlan
        fields = ["id", "name", "currency", "description", "is_default", "rates"]
        read_only_fields = ["id"]

    def validate_is_default(self, value):
        if value:
            others = RatePlan.objects.filter(is_default=True)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise serializers.ValidationError(f"{others.first().name!r} is the default plan already")
        return value

    def validate_rates(self, rates):
        # the rates replace the plan's: each is whole, also in a PATCH (where DRF would let fields out)
        required = ("measure", "unit_price", "effective_from")
        errors = [{name: ["This field is required."] for name in required if name not in rate} for rate in rates]
        if any(errors):
            raise serializers.ValidationError(errors)
        return rates

    def _save_rates(self, plan, rates):
        if rates is None:
            return
        plan.rates.all().delete()
        Rate.objects.bulk_create([Rate(plan=plan, **rate) for rate in rates])

    def create(self, validated_data):
        rates = validated_data.pop("rates", [])
        with transaction.atomic():
            plan = RatePlan.objects.create(**validated_data)
            self._save_rates(plan, rates)
        return plan

    def update(self, instance, validated_data):
        rates = validated_data.pop("rates", None)
        with transaction.atomic():
            for name, value in validated_data.items():
                setattr(instance, name, value)
            instance.save()
            self._save_rates(instance, rates)
        return instance


# -- budget alerts and report subscriptions ------------------------------------------------------------


class ReportSubscriptionSerializer(StrictModelSerializer):
    project = VisibleProjectField(at_least=Role.ADMIN, allow_null=True, required=False,
                                  help_text="project slug (you must be its admin); null: every project (staff)")

    class Meta:
        model = ReportSubscription
        fields = ["id", "project", "kind", "frequency", "timezone", "recipients", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        """The model's own rules (addresses, timezone): the same words as the page and the admin."""
        candidate = ReportSubscription(**{**({f: getattr(self.instance, f) for f in
                                              ("project", "kind", "frequency", "timezone", "recipients", "enabled")}
                                             if self.instance else {}), **attrs})
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class BudgetAlertSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = BudgetAlert
        fields = ["id", "project", "period_start", "basis", "threshold", "budget", "amount", "currency", "fired_at",
                  "deliveries"]
        read_only_fields = fields


class LabelQuerySerializer(PeriodQuerySerializer):
    """``key`` (and optionally ``key2``) over [start, end)."""

    key = StrictCharField(max_length=253, help_text="the label key to group by, e.g. team")
    key2 = StrictCharField(max_length=253, required=False, help_text="a second key, nested under the first")


class LabelBucketSerializer(serializers.Serializer):
    values = serializers.ListField(child=serializers.CharField())
    resources = serializers.IntegerField(source="resource_count")
    measures = serializers.DictField(child=serializers.DecimalField(max_digits=30, decimal_places=6))
    cost = serializers.DictField(child=serializers.DecimalField(max_digits=24, decimal_places=2),
                                 help_text="currency -> amount")


class LabelReportSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.CharField())
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    buckets = LabelBucketSerializer(many=True)
    totals = serializers.DictField(child=serializers.DecimalField(max_digits=24, decimal_places=2))
    unpriced = serializers.ListField(child=serializers.CharField(), help_text="projects without a rate plan")


class RecommendationQuerySerializer(serializers.Serializer):
    project = StrictCharField(required=False, max_length=63, help_text="a project slug (default: every project "
                                                                         "you can see)")
    window = serializers.ChoiceField(choices=[14, 30], required=False, default=14, help_text="days of utilization")


class RecommendationSerializer(serializers.Serializer):
    resource = serializers.IntegerField(source="resource.pk")
    name = serializers.CharField(source="resource.name")
    project = serializers.CharField(source="resource.project.slug")
    provider = serializers.CharField(source="resource.account.name")
    kind = serializers.CharField()
    suggestion = serializers.CharField()
    evidence = serializers.DictField()
    suggested_vcpus = serializers.DecimalField(source="suggested.vcpus", max_digits=12, decimal_places=3,
                                               allow_null=True, default=None)
    suggested_ram_mb = serializers.IntegerField(source="suggested.ram_mb", allow_null=True, default=None)
    suggested_flavor = serializers.CharField(source="suggested.flavor", allow_null=True, default=None)
    monthly_saving = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    currency = serializers.CharField()


class RecommendationDecisionSerializer(serializers.Serializer):
    resource = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["idle", "oversized", "stopped_with_disks"])
    action = serializers.ChoiceField(choices=["dismiss", "snooze"])
    until = serializers.DateTimeField(required=False, help_text="required for a snooze")
    note = StrictCharField(required=False, allow_blank=True, max_length=500)
    id = serializers.IntegerField(read_only=True)
    at = serializers.DateTimeField(read_only=True)


class AssignSerializer(serializers.Serializer):
    """``{"resources": [ids], "project": "slug"}`` for ``POST /api/v1/resources/assign/``."""

    resources = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)
    project = serializers.SlugRelatedField(slug_field="slug", queryset=Project.objects.all())


class AssignedSerializer(serializers.Serializer):
    project = serializers.CharField(source="project.slug", read_only=True, help_text="project slug")
    resources = serializers.IntegerField(read_only=True)
    rules = serializers.IntegerField(read_only=True)

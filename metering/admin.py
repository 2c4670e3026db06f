"""Django admin for the metering app: projects with their limits beside current usage.

Quota edits made here (the project's Quota inline, the "apply a limit" bulk action, site
defaults) go through ``metering.quotas.set_limits``/``set_defaults`` with source ``admin``, so they
are validated and audited exactly like edits from the portal, the API and the command line. The
audit and the breaches are read-only.
"""

from __future__ import annotations

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from metering import memberships
from metering.choices import ChangeSource, QuotaKey
from metering.models import (
    AllocationRule,
    BudgetAlert,
    BudgetAlertPolicy,
    CollectionState,
    ExchangeRate,
    ExternalProject,
    FixedCost,
    HostCost,
    MappingRule,
    Membership,
    PriceSheet,
    PriceSheetEntry,
    Project,
    ProjectRatePlan,
    ProvisionRequest,
    Quota,
    QuotaAudit,
    QuotaBreach,
    QuotaDefault,
    Rate,
    RatePlan,
    RefreshRun,
    ReportRun,
    ReportSubscription,
    Resource,
    Statement,
    StatementLine,
    UsageSegment,
)
from metering.quotas import QuotaValueError, project_usage, set_defaults, set_limits, usage_by_scope
from metering.quotas.usage import number
from providers.admin import ProviderAccountAdmin
from providers.models import ProviderAccount


class ReadOnlyMixin:
    """Visible to whoever may view; never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def describe(usage) -> str:
    text = f"{number(usage.used)} used"
    if usage.reserved:
        text += f" + {number(usage.reserved)} reserved"
    if usage.unlimited:
        return text + " (unlimited)"
    text += f" of {usage.limit} ({usage.percent}%)"
    return text + (" — OVER" if usage.over else "")


class BoundedIdsField(forms.ModelMultipleChoiceField):
    """A choice of ids a database integer can hold: a 40-digit id is an invalid choice (a form error),
    not an overflow deep in SQLite's driver (a 500)."""

    def _check_values(self, value):
        for pk in value or ():
            try:
                number = int(str(pk))
            except (TypeError, ValueError):
                continue  # the parent says what is wrong with it
            if not -(2**63) <= number < 2**63:
                raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                      params={"value": pk})
        return super()._check_values(value)


class BoundedIdsMixin:
    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedIdsField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class MembershipFormSet(BaseInlineFormSet):
    """The last-admin rule of ``metering.memberships`` on the project page's member rows."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        before = [form.initial.get("role") for form in self.forms if form.instance.pk]
        after = [form.cleaned_data.get("role") for form in self.forms
                 if form.cleaned_data and form not in self.deleted_forms]
        if memberships.leaves_without_admin(before, after):
            raise ValidationError(memberships.RULE)


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    raw_id_fields = ["user"]


class QuotaInline(admin.TabularInline):
    """The project's own limits; each row shows what is counted against it right now."""

    model = Quota
    extra = 1
    fields = ["key", "account", "limit", "current_usage"]
    readonly_fields = ["current_usage"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._usage = {}  # inline instances live for one request

    @admin.display(description="usage now")
    def current_usage(self, quota):
        if not quota.pk:
            return "-"
        scope = (quota.project_id, quota.account_id)
        if scope not in self._usage:
            self._usage[scope] = project_usage(quota.project, quota.account)
        return describe(self._usage[scope][quota.key])


class QuotaAuditInline(ReadOnlyMixin, admin.TabularInline):
    model = QuotaAudit
    fk_name = "project"
    extra = 0
    fields = ["at", "key", "account", "external_id", "old", "new", "changed_by", "source", "outcome", "message"]
    readonly_fields = fields
    verbose_name_plural = "quota changes (audit)"


class QuotaBreachInline(ReadOnlyMixin, admin.TabularInline):
    model = QuotaBreach
    extra = 0
    fields = ["key", "account", "limit", "used", "over_by", "opened_at", "closed_at"]
    readonly_fields = fields


class ProjectRatePlanInline(admin.TabularInline):
    """Which rate plan prices the project, and from when (none: the site default plan)."""

    model = ProjectRatePlan
    extra = 0
    verbose_name_plural = "rate plan assignments"


class FixedCostInline(admin.TabularInline):
    """Monthly costs (support, licences) prorated by the real number of days in a statement."""

    model = FixedCost
    extra = 0


class ApplyLimitForm(ActionForm):
    """Extra fields in the changelist's action bar for the "apply a limit" action."""

    key = forms.ChoiceField(choices=[("", "quota key")] + list(QuotaKey.choices), required=False)
    limit = forms.IntegerField(required=False, min_value=-1, help_text="-1 = unlimited",
                               widget=forms.NumberInput(attrs={"placeholder": "limit (-1 unlimited)"}))
    account = forms.ModelChoiceField(ProviderAccount.objects.all(), required=False, empty_label="all accounts")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "billing_mode", "breach_policy", "usage_percent", "open_breaches"]
    list_filter = ["billing_mode", "breach_policy"]
    search_fields = ["slug", "name", "cost_centre"]
    raw_id_fields = ["parent"]
    inlines = [MembershipInline, QuotaInline, ProjectRatePlanInline, FixedCostInline, QuotaBreachInline,
               QuotaAuditInline]
    action_form = ApplyLimitForm
    actions = ["apply_limit"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_changelist_instance(self, request):
        """Count usage for the whole page at once (four queries) instead of per row."""
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)
        usage = usage_by_scope([p.pk for p in page])
        open_breaches = defaultdict(list)
        for pid, key in QuotaBreach.objects.filter(project__in=page, closed_at__isnull=True).values_list(
                "project_id", "key"):
            open_breaches[pid].append(key)
        for project in page:
            project.page_usage = usage.get(project.pk, {}).get(None, {})
            project.page_breaches = open_breaches.get(project.pk, [])
        return changelist

    @admin.display(description="highest usage")
    def usage_percent(self, project):
        limited = [u for u in getattr(project, "page_usage", {}).values() if not u.unlimited]
        if not limited:
            return "no limits"
        top = max(limited, key=lambda u: u.percent)
        if top.over:
            return format_html('<strong style="color:#b00">{}% {}</strong>', top.percent, top.key)
        return f"{top.percent}% {top.key}"

    @admin.display(description="open breaches")
    def open_breaches(self, project):
        return ", ".join(getattr(project, "page_breaches", [])) or "-"

    def save_formset(self, request, form, formset, change):
        if formset.model is not Quota:
            return super().save_formset(request, form, formset, change)
        self._save_quotas(request, form.instance, formset)

    def _save_quotas(self, request, project, formset) -> None:
        """Turn the inline's rows into ``set_limits`` calls, one per scope, so they are audited."""
        changes: dict[int | None, dict[str, int | None]] = defaultdict(dict)
        deleted = set(formset.deleted_forms)
        for qform in formset.forms:
            old_key, old_account = qform.initial.get("key"), qform.initial.get("account")
            if qform in deleted:
                if qform.instance.pk:
                    changes[old_account][old_key] = None
                continue
            if not qform.has_changed() or not qform.cleaned_data:
                continue
            data = qform.cleaned_data
            account_id = data["account"].pk if data.get("account") else None
            if qform.instance.pk and (old_key, old_account) != (data["key"], account_id):
                changes[old_account].setdefault(old_key, None)  # moved: the old row goes
            changes[account_id][data["key"]] = data["limit"]
        accounts = ProviderAccount.objects.in_bulk([a for a in changes if a is not None])
        for account_id, values in changes.items():
            set_limits(project, values, user=request.user, source=ChangeSource.ADMIN,
                       account=accounts.get(account_id))
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description="Apply a limit (key, limit, account above) to the selected projects")
    def apply_limit(self, request, queryset):
        form = ApplyLimitForm(request.POST)
        form.fields["action"].choices = self.get_action_choices(request)
        if not form.is_valid():
            field, errors = next(iter(form.errors.items()))
            self.message_user(request, f"{field}: {errors[0]}", messages.ERROR)
            return
        key, limit, account = form.cleaned_data["key"], form.cleaned_data["limit"], form.cleaned_data["account"]
        if not key or limit is None:
            self.message_user(request, "choose a quota key and a limit (-1 = unlimited)", messages.ERROR)
            return
        changed = 0
        try:
            for project in queryset:
                changed += bool(set_limits(project, {key: limit}, user=request.user, source=ChangeSource.ADMIN,
                                           account=account))
        except QuotaValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        scope = f" on {account}" if account else ""
        self.message_user(request, f"Set {key}{scope} = {limit} on {queryset.count()} project(s), {changed} changed")


@admin.register(QuotaDefault)
class QuotaDefaultAdmin(admin.ModelAdmin):
    """Site-wide defaults (like Horizon's Defaults); saved through ``set_defaults`` (audited)."""

    list_display = ["key", "limit"]
    list_editable = ["limit"]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        set_defaults({obj.key: obj.limit}, user=request.user, source=ChangeSource.ADMIN)
        obj.pk = QuotaDefault.objects.get(key=obj.key).pk

    def delete_model(self, request, obj):
        set_defaults({obj.key: None}, user=request.user, source=ChangeSource.ADMIN)

    def delete_queryset(self, request, queryset):
        set_defaults(dict.fromkeys(queryset.values_list("key", flat=True)), user=request.user,
                     source=ChangeSource.ADMIN)


@admin.register(QuotaAudit)
class QuotaAuditAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "project", "account", "external_id", "key", "old", "new", "changed_by", "source", "outcome"]
    list_filter = ["source", "outcome", "key"]
    search_fields = ["project__slug", "changed_by__username"]
    date_hierarchy = "at"


@admin.register(QuotaBreach)
class QuotaBreachAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["project", "key", "account", "limit", "used", "over_by", "opened_at", "closed_at"]
    list_filter = ["key", ("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["project__slug"]


@admin.register(ProvisionRequest)
class ProvisionRequestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "project", "account", "kind", "state", "requested_by", "message"]
    list_filter = ["state", "kind"]
    search_fields = ["project__slug", "message"]


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account", "project", "state", "vcpus", "ram_mb", "disk_gb", "deleted_at"]
    list_filter = ["kind", "state", "account"]
    search_fields = ["name", "external_id"]
    raw_id_fields = ["parent", "project"]
    readonly_fields = ["account", "external_id", "first_seen", "last_seen", "deleted_at", "last_sample"]


@admin.register(UsageSegment)
class UsageSegmentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["resource", "project", "state", "vcpus", "ram_mb", "disk_gb", "start", "end", "open", "estimated"]
    list_filter = ["open", "estimated", "kind"]
    raw_id_fields = ["resource"]


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["account", "status", "trigger", "queued_at", "started_at", "finished_at", "duration", "error"]
    list_filter = ["status", "account"]


@admin.register(ExternalProject)
class ExternalProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "account", "project", "last_seen"]
    list_filter = ["account"]
    search_fields = ["name", "external_id"]
    readonly_fields = ["account", "external_id", "name", "facts", "last_seen"]

    def has_add_permission(self, request):
        return False  # the collector finds them; a hand-made one would have no account (a 500 on save)


@admin.register(MappingRule)
class MappingRuleAdmin(admin.ModelAdmin):
    list_display = ["priority", "source", "key", "value", "project", "account"]


class RateInline(admin.TabularInline):
    model = Rate
    extra = 0


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "is_default"]
    inlines = [RateInline]


@admin.register(HostCost)
class HostCostAdmin(admin.ModelAdmin):
    """The on-premises cost model: what a host (or a whole account's hosts) costs per month."""

    list_display = ["__str__", "currency", "monthly_hardware_cost", "power_watts", "electricity_price_kwh", "pue"]
    raw_id_fields = ["host"]


class PriceSheetEntryInline(admin.TabularInline):
    model = PriceSheetEntry
    extra = 1


@admin.register(PriceSheet)
class PriceSheetAdmin(admin.ModelAdmin):
    """The public-cloud sizes and hourly prices the chargeback page compares on-premises costs with."""

    list_display = ["name", "currency", "sizes"]
    inlines = [PriceSheetEntryInline]

    @admin.display(description="sizes")
    def sizes(self, sheet):
        return sheet.entries.count()


class StatementLineInline(ReadOnlyMixin, admin.TabularInline):
    model = StatementLine
    extra = 0
    fields = ["resource_name", "measure", "quantity", "unit", "unit_price", "amount", "estimated"]
    readonly_fields = fields


@admin.register(Statement)
class StatementAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["project", "period_start", "revision", "status", "currency", "total", "issued_at"]
    list_filter = ["status"]
    inlines = [StatementLineInline]


# -- budget alerts and scheduled reports (validation on the models: same rules as page and API) ------


@admin.register(BudgetAlertPolicy)
class BudgetAlertPolicyAdmin(admin.ModelAdmin):
    list_display = ("project", "enabled", "thresholds", "email_admins", "extra_emails", "webhook_url")
    list_filter = ("enabled",)
    search_fields = ("project__slug",)


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("project", "period_start", "basis", "threshold", "amount", "budget", "currency", "fired_at",
                    "deliveries")
    list_filter = ("basis", "threshold")
    date_hierarchy = "fired_at"


class ReportRunInline(ReadOnlyMixin, admin.TabularInline):
    model = ReportRun
    fields = ("period_start", "period_end", "status", "attempts", "attachment", "size", "sent_at", "error")
    extra = 0


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "project", "kind", "frequency", "timezone", "recipients", "enabled")
    list_filter = ("kind", "frequency", "enabled")
    inlines = [ReportRunInline]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Dated exchange rates (1 base = rate quote); validated by ``ExchangeRate.clean``. A CSV loads
    with ``manage.py exchange_rates import FILE``."""

    list_display = ("base", "quote", "rate", "effective_from", "source")
    list_filter = ("base", "quote")
    date_hierarchy = "effective_from"


class AllocationRuleForm(forms.ModelForm):
    class Meta:
        model = AllocationRule
        fields = ["name", "spreads", "source", "hosts", "method", "measure", "weights", "targets", "enabled"]

    def clean(self):
        data = super().clean()
        if data.get("spreads") != "idle" and data.get("hosts"):
            self.add_error("hosts", "hosts apply to idle-capacity rules only; leave empty for a shared project")
        return data


@admin.register(AllocationRule)
class AllocationRuleAdmin(BoundedIdsMixin, admin.ModelAdmin):
    """Shared-cost and idle-capacity allocation (``metering.chargeback.allocation`` and ``.idle``);
    validated by ``AllocationRule.clean``."""

    form = AllocationRuleForm
    list_display = ("name", "spreads", "source", "method", "measure", "enabled")
    list_filter = ("spreads", "method", "enabled")
    filter_horizontal = ("targets", "hosts")


# -- the collector's state on the provider account's admin page ------------------------------------
# ``providers`` imports nothing of ours, so the collector's state (``CollectionState``) is added to
# its admin from here: read-only fields in a "Health and last refresh" section.

STATE_FIELDS = ["health", "health_message", "health_checked_at", "last_refresh_started", "last_refresh_finished",
                "last_refresh_duration", "last_refresh_counts", "last_refresh_error", "last_observed_at",
                "lease_owner", "lease_until"]


def _state_field(name: str):
    def show(self, account):
        state = CollectionState.of(account) if account.pk else None
        if state is None:
            return "-"
        return state.get_health_display() if name == "health" else getattr(state, name)

    show.short_description = CollectionState._meta.get_field(name).verbose_name
    return show


for _name in STATE_FIELDS:
    setattr(ProviderAccountAdmin, f"state_{_name}", _state_field(_name))


@admin.display(description="health", ordering="collection__health")
def account_health(account) -> str:
    return CollectionState.of(account).get_health_display()


ProviderAccountAdmin.readonly_fields = [*ProviderAccountAdmin.readonly_fields, *(f"state_{n}" for n in STATE_FIELDS)]
ProviderAccountAdmin.fieldsets = [*ProviderAccountAdmin.fieldsets,
                                  ("Health and last refresh", {"fields": [f"state_{n}" for n in STATE_FIELDS]})]
ProviderAccountAdmin.list_display = [*ProviderAccountAdmin.list_display, account_health]
ProviderAccountAdmin.list_filter = [*ProviderAccountAdmin.list_filter, "collection__health"]

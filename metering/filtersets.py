"""FilterSets shared by the web list views and the REST API (one definition, two front ends).

``ResourceFilterSet`` filters the inventory. It never widens what a caller may see: the view hands
it a queryset already scoped with ``metering.access``, and the ``project`` choices are the
projects the request's user may see, so naming a project you cannot see is the same "not a valid
choice" error as naming one that does not exist (nothing leaks). Deleted resources are left out
unless ``include_deleted`` is true.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from metering import access
from metering.choices import (
    AccountHealth,
    QuotaKey,
    RequestState,
    ResourceKind,
    ResourceState,
    Role,
    RunStatus,
    StatementStatus,
)
from metering.models import (
    Membership,
    Project,
    ProvisionRequest,
    QuotaBreach,
    RefreshRun,
    Resource,
    Statement,
)
from providers.models import ProviderAccount


def _visible_projects(request):
    user = getattr(request, "user", None)
    if user is None:  # built outside a request (a command, a test): the caller scoped the queryset
        return Project.objects.all()
    return access.visible_projects(user)


def parse_label(text: str) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")``; the value may be empty, the key may not."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValidationError("expected key=value, e.g. env=prod")
    return key.strip(), value


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0, yes/no); anything else is an error, not silently "not given"."""

    widget = forms.TextInput
    TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

    def to_python(self, value):
        text = str(value).strip().lower() if value is not None else ""
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        if text == "":
            return None
        raise ValidationError("expected true or false", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class LabelField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value:
            parse_label(value)
        return value


class LabelFilter(django_filters.CharFilter):
    """``label=key=value``: resources whose label ``key`` equals ``value`` exactly.

    The key is read literally (``KeyTextTransform``), so a key holding ``__`` cannot turn into an
    ORM lookup."""

    field_class = LabelField

    def filter(self, qs, value):
        if not value:
            return qs
        key, text = parse_label(value)
        # Cast: a plain text comparison (the JSON-aware exact lookup would parse the value as JSON on SQLite)
        return qs.alias(_label_value=Cast(KeyTextTransform(key, "labels"), TextField())).filter(_label_value=text)


class ResourceFilterSet(django_filters.FilterSet):
    project = django_filters.ModelChoiceFilter(
        field_name="project", to_field_name="slug", queryset=_visible_projects, label="Project (slug)",
        empty_label="All",
    )
    provider = django_filters.ModelChoiceFilter(
        field_name="account", to_field_name="name", queryset=ProviderAccount.objects.all(),
        label="Provider account (name)", empty_label="All",
    )
    kind = django_filters.ChoiceFilter(choices=ResourceKind.choices, empty_label="All")
    state = django_filters.ChoiceFilter(choices=ResourceState.choices, empty_label="All")
    label = LabelFilter(label="Label (key=value)", max_length=511)
    q = django_filters.CharFilter(method="search", label="Search (name or label value)", max_length=200)
    include_deleted = StrictBooleanFilter(method="keep", label="Include deleted resources")
    unassigned = StrictBooleanFilter(method="without_project", label="Only resources without a project")

    class Meta:
        model = Resource
        fields = ["project", "provider", "kind", "state", "label", "q", "include_deleted", "unassigned"]

    def without_project(self, queryset, name, value):
        return queryset.filter(project__isnull=True) if value else queryset

    def search(self, queryset, name, value):
        """Case-insensitive match on the name or anywhere in the labels' JSON text (values, and
        keys too: a search for a key finds the resources that carry it)."""
        if not value:
            return queryset
        return queryset.alias(_labels_text=Cast("labels", TextField())).filter(
            Q(name__icontains=value) | Q(_labels_text__icontains=value)
        )

    def keep(self, queryset, name, value):
        return queryset  # applied in filter_queryset, because its default (false) must act too

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_deleted"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return queryset


class ProviderAccountFilterSet(django_filters.FilterSet):
    kind = django_filters.CharFilter(max_length=40)
    enabled = StrictBooleanFilter()
    health = django_filters.ChoiceFilter(field_name="collection__health", choices=AccountHealth.choices)

    class Meta:
        model = ProviderAccount
        fields = ["kind", "enabled", "health"]


class MembershipFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)", max_length=63)
    user = django_filters.CharFilter(field_name="user__username", label="User (username)", max_length=150)
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["project", "user", "role"]


class RefreshRunFilterSet(django_filters.FilterSet):
    provider = django_filters.ModelChoiceFilter(
        field_name="account", to_field_name="name", queryset=ProviderAccount.objects.all(),
        label="Provider account (name)",
    )
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.CharFilter(max_length=20)

    class Meta:
        model = RefreshRun
        fields = ["provider", "status", "trigger"]


class QuotaBreachFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)", max_length=63)
    key = django_filters.ChoiceFilter(choices=QuotaKey.choices)
    open = StrictBooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Only open breaches")

    class Meta:
        model = QuotaBreach
        fields = ["project", "key", "open"]


class ProvisionRequestFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)", max_length=63)
    state = django_filters.ChoiceFilter(choices=RequestState.choices)

    class Meta:
        model = ProvisionRequest
        fields = ["project", "state"]


class StatementFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)", max_length=63)
    status = django_filters.ChoiceFilter(choices=StatementStatus.choices)

    class Meta:
        model = Statement
        fields = ["project", "status"]

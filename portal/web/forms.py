"""Forms of the web pages: the report period, the user's timezone, provider accounts, quota limits,
the statement period and project members.

The period form parses dates with ``metering.periods`` so the page, the CSV and the command line
agree on what a period is; bad input becomes a field error shown inline, never a 500.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from metering.choices import QuotaKey, Role
from metering.models import Membership
from metering.periods import PeriodError, day_range, month_range, parse_date
from providers import connection_check, registry
from providers.base import Driver, Setting
from providers.configure import ConfigurationError
from providers.models import NAME_VALIDATOR, ProviderAccount

COMMON_TIMEZONES = [
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Warsaw",
    "Europe/Helsinki", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Sydney", "Pacific/Auckland",
]


def today() -> date:
    return timezone.localdate()


def quick_picks(now: date) -> list[tuple[str, date, date]]:
    """(label, first day, last day inclusive) for the period quick picks."""
    first = now.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [
        ("This month", first, now),
        ("Last month", last_month_end.replace(day=1), last_month_end),
        ("Last 7 days", now - timedelta(days=6), now),
    ]


class PeriodForm(forms.Form):
    """From/To as YYYY-MM-DD, both days included (as Horizon's overview); defaults to this month.

    ``cleaned_data["range"]`` is the period as aware UTC datetimes [start, end) at the user's
    local midnights.
    """

    start = forms.CharField(label="From", required=False, max_length=10,
                            widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD", "inputmode": "numeric",
                                                          "pattern": r"\d{4}-\d{2}-\d{2}"}))
    end = forms.CharField(label="To", required=False, max_length=10,
                          widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD", "inputmode": "numeric",
                                                        "pattern": r"\d{4}-\d{2}-\d{2}"}))

    def __init__(self, data=None, **kwargs):
        now = today()
        defaults = {"start": now.replace(day=1).isoformat(), "end": now.isoformat()}
        merged = {**defaults, **{k: v for k, v in (data or {}).items() if k in defaults and v}}
        super().__init__(merged, **kwargs)

    def clean_start(self) -> date:
        return self._date("start", "From")

    def clean_end(self) -> date:
        return self._date("end", "To")

    def _date(self, name: str, label: str) -> date:
        try:
            return parse_date(self.cleaned_data[name].strip(), label)
        except PeriodError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean(self):
        data = super().clean()
        if "start" in data and "end" in data:
            if data["end"] < data["start"]:
                self.add_error("end", f"To ({data['end']}) must be on or after From ({data['start']})")
                return data
            try:
                data["range"] = day_range(data["start"], data["end"] + timedelta(days=1),
                                          timezone.get_current_timezone())
            except PeriodError as exc:
                self.add_error("end", str(exc))
        return data

    def range_or_default(self) -> tuple[datetime, datetime]:
        """The valid period, or this month when the input was invalid (the page still renders)."""
        if self.is_valid():
            return self.cleaned_data["range"]
        now = today()
        return day_range(now.replace(day=1), now + timedelta(days=1), timezone.get_current_timezone())


class TimezoneForm(forms.Form):
    timezone = forms.CharField(max_length=64, label="Timezone",
                               widget=forms.TextInput(attrs={"list": "tz-choices", "autocomplete": "off"}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"{name!r} is not a timezone; use an IANA name like Europe/Berlin") from None
        return name


def _field_for(spec: Setting, secret_kept: bool) -> forms.Field:
    """A form field for one driver setting, labelled in words (``Setting.title``: "Auth URL", not
    ``auth_url``); every value stays text here, so the driver's own validation (through
    ``ProviderAccount.configure``) names what is wrong with it on the field."""
    required = spec.required and not secret_kept
    help_text = spec.help
    label = spec.title
    if spec.secret:
        if secret_kept:
            help_text = (help_text + " " if help_text else "") + "Stored; leave empty to keep it."
        return forms.CharField(label=label, required=required, help_text=help_text,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    if spec.type == "bool":
        return forms.BooleanField(label=label, required=False, help_text=help_text,
                                  initial=bool(spec.default))
    if spec.type == "choice":
        choices = [("", "—")] if not spec.required else []
        return forms.ChoiceField(label=label, required=required, help_text=help_text,
                                 choices=choices + [(c, c) for c in spec.choices], initial=spec.default)
    attrs = {"inputmode": "numeric"} if spec.type == "int" else {}
    return forms.CharField(label=label, required=required, help_text=help_text,
                           initial=spec.default if spec.default is not None else "",
                           widget=forms.TextInput(attrs=attrs))


class ProviderAccountForm(forms.Form):
    """Add or edit one account; its driver's settings schema becomes fields.

    Settings fields are named ``setting_<name>``, credentials ``credential_<name>``. Stored
    credentials are never rendered: on edit, an empty credential field keeps the stored value
    unless the endpoint changes (then it must be entered again). ``ProviderAccount.configure``
    decides, and its field errors land on the matching fields.
    """

    name = forms.CharField(max_length=63, validators=[NAME_VALIDATOR], label="Name",
                           help_text="lowercase letters, digits, '-' and '_'; the command line and the API use it")
    refresh_interval = forms.IntegerField(min_value=10, initial=300, label="Refresh interval (seconds)")
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled",
                                 help_text="refresh on a schedule")
    #: the fields a connection check does not need
    ACCOUNT_FIELDS = ("name", "refresh_interval", "enabled")

    def __init__(self, *args, kind: str, instance: ProviderAccount | None = None, **kwargs):
        self.kind = kind
        self.instance = instance
        self.driver_class: type[Driver] = registry.driver_class(kind)
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name, "refresh_interval": instance.refresh_interval, "enabled": instance.enabled,
                **{f"setting_{k}": v for k, v in instance.settings.items()},
            }
        super().__init__(*args, **kwargs)
        stored = set(instance.credentials) if instance is not None else set()
        for spec in self.driver_class.settings_schema:
            self.fields[f"setting_{spec.name}"] = _field_for(spec, secret_kept=False)
        for spec in self.driver_class.credentials_schema:
            self.fields[f"credential_{spec.name}"] = _field_for(spec, secret_kept=spec.name in stored)

    def setting_fields(self):
        return [self[n] for n in self.fields if n.startswith("setting_")]

    def credential_fields(self):
        return [self[n] for n in self.fields if n.startswith("credential_")]

    def clean_refresh_interval(self) -> int:
        """The model field's own bounds too: at most what the column holds (else a 500 on save)."""
        value = self.cleaned_data["refresh_interval"]
        ProviderAccount._meta.get_field("refresh_interval").run_validators(value)
        return value

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        clash = ProviderAccount.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"an account named {name!r} already exists")
        return name

    def _raw(self, data) -> tuple[dict, dict]:
        """The settings and credentials as typed, keyed by the driver's names."""
        raw_settings = {s.name: data.get(f"setting_{s.name}") for s in self.driver_class.settings_schema}
        raw_settings = {k: v for k, v in raw_settings.items() if v not in (None, "")}
        raw_credentials = {s.name: data.get(f"credential_{s.name}") or "" for s in self.driver_class.credentials_schema}
        return raw_settings, raw_credentials

    def _configuration_errors(self, exc: ConfigurationError) -> None:
        """Each of ``configure``'s errors on the field it names; other settings a message names by
        their keys (``client_cert``) are named by their labels, as the page shows them ("Client
        certificate"). Plain-word keys (``host``, ``password``) already read as words and stay."""
        specs = (*self.driver_class.settings_schema, *self.driver_class.credentials_schema)
        titles = {s.name: s.title for s in specs}
        keys = sorted((name for name in titles if "_" in name), key=len, reverse=True)
        named = re.compile(r"\b(" + "|".join(map(re.escape, keys)) + r")\b") if keys else None
        if exc.kind:
            self.add_error(None, exc.kind)
        for prefix, errors in (("setting", exc.settings), ("credential", exc.credentials)):
            for key, message in errors.items():
                if named is not None and "got " not in message:  # never rewrite what the person typed
                    message = named.sub(lambda m: titles[m.group(1)], message)
                field = f"{prefix}_{key}"
                if field in self.errors:
                    continue  # the field's own check said it first ("This field is required.")
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{titles.get(key, key)}: {message}")

    def clean(self):
        data = super().clean()
        raw_settings, raw_credentials = self._raw(data)
        self._account = self.instance or ProviderAccount(kind=self.kind)
        try:
            self._account.configure(raw_settings, raw_credentials, kind=self.kind, save=False)
        except ConfigurationError as exc:
            self._configuration_errors(exc)
        return data

    def check_connection(self) -> connection_check.ConnectionCheck | None:
        """Test connection: the settings and credentials as typed, checked against the provider
        without saving anything (``providers.connection_check``). ``None`` when they are not valid
        yet; the form then holds their field errors (the account's name is not needed for a test)."""
        self.is_valid()
        for name in self.ACCOUNT_FIELDS:
            self.errors.pop(name, None)
        if self.errors:
            return None
        raw_settings, raw_credentials = self._raw(self.cleaned_data)
        try:
            return connection_check.check(self.kind, raw_settings, raw_credentials, account=self.instance)
        except ConfigurationError as exc:  # validated above; kept for a driver whose validate is not pure
            self._configuration_errors(exc)
            return None

    def save(self) -> ProviderAccount:
        account = self._account
        account.name = self.cleaned_data["name"]
        account.refresh_interval = self.cleaned_data["refresh_interval"]
        account.enabled = self.cleaned_data["enabled"]
        account.full_clean(exclude=["credentials_encrypted"])
        account.save()
        return account


# -- quotas, statements, members (appended by the quotas / chargeback / members pages) -------------

class QuotaLimitsForm(forms.Form):
    """One field per quota key: a whole number >= -1 (-1 = unlimited); empty = no value of its own.

    For a project's global scope an empty field means "use the site default" (the default is shown
    as help text); for an account scope or the site defaults it means unlimited. The quota service
    (``set_limits``/``set_defaults``) validates again and its ``QuotaValueError`` lands on the fields.
    """

    def __init__(self, *args, fallback: dict[str, int] | None = None, empty_means: str = "unlimited", **kwargs):
        super().__init__(*args, **kwargs)
        for key in QuotaKey:
            help_text = f"Empty: {empty_means}"
            if fallback is not None:
                shown = "unlimited" if fallback[key] == -1 else fallback[key]
                help_text = f"Empty: {empty_means} ({shown})"
            self.fields[key.value] = forms.IntegerField(
                label=key.label, required=False, min_value=-1, help_text=help_text,
                widget=forms.NumberInput(attrs={"min": -1, "step": 1, "inputmode": "numeric"}))

    def values(self) -> dict[str, int | None]:
        return {key: self.cleaned_data.get(key) for key in self.fields}

    def add_service_errors(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)


class StatementPeriodForm(forms.Form):
    """A statement's period: a calendar month (``period=YYYY-MM``) or From/To days (both included).

    Statement periods are UTC, whatever the user's timezone, so a statement issued from the page is
    the same statement (same period, same revisions) as the ``chargeback`` command's, and months
    match the UTC months fixed costs are prorated by. Defaults to the current UTC month.
    ``revision`` picks an issued revision (absent: the live draft).
    """

    period = forms.CharField(label="Month", required=False, max_length=7,
                             widget=forms.TextInput(attrs={"placeholder": "YYYY-MM", "inputmode": "numeric"}))
    start = forms.CharField(label="From", required=False, max_length=10,
                            widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD", "inputmode": "numeric"}))
    end = forms.CharField(label="To", required=False, max_length=10,
                          widget=forms.TextInput(attrs={"placeholder": "YYYY-MM-DD", "inputmode": "numeric"}))
    revision = forms.IntegerField(required=False, min_value=1)

    def clean_period(self) -> str:
        text = self.cleaned_data["period"].strip()
        if text and not re.fullmatch(r"\d{4}-\d{2}", text):
            raise forms.ValidationError(f"{text!r}: expected a month as YYYY-MM", code="invalid")
        return text

    def clean_start(self) -> date | None:
        return self._date("start", "From")

    def clean_end(self) -> date | None:
        return self._date("end", "To")

    def _date(self, name: str, label: str) -> date | None:
        text = self.cleaned_data[name].strip()
        if not text:
            return None
        try:
            return parse_date(text, label)
        except PeriodError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean(self):
        data = super().clean()
        if any(name in self.errors for name in ("period", "start", "end")):
            return data
        month, first, last = data.get("period"), data.get("start"), data.get("end")
        try:
            if month and (first or last):
                self.add_error("period", "give a month or From/To, not both")
            elif month:
                data["range"] = month_range(month, UTC)
                data["label"] = month
            elif first or last:
                if not (first and last):
                    self.add_error("end" if first else "start", "give both From and To")
                elif last < first:
                    self.add_error("end", f"To ({last}) must be on or after From ({first})")
                else:
                    data["range"] = day_range(first, last + timedelta(days=1), UTC)
                    data["label"] = f"{first} to {last}"
            else:
                data["range"], data["label"] = current_month()
        except PeriodError as exc:
            self.add_error("period" if month else "end", str(exc).removeprefix("--period "))
        return data

    def range_or_default(self) -> tuple[datetime, datetime]:
        """The valid period, or the current UTC month when the input was invalid (the page still renders)."""
        if self.is_valid():
            return self.cleaned_data["range"]
        return current_month()[0]

    def label(self) -> str:
        return self.cleaned_data["label"] if self.is_valid() else current_month()[1]

    def month_value(self) -> str:
        """What the Month field shows: the month asked for, or the month shown by default (the
        current UTC month) when neither a month nor From/To was given."""
        if self.data.get("period"):
            return self.data["period"]
        if self.data.get("start") or self.data.get("end"):
            return ""
        return current_month()[1]

    def is_open(self) -> bool:
        """Whether the period shown has not ended yet (its statement would still change)."""
        return self.range_or_default()[1] > timezone.now()

    def period_query(self) -> dict[str, str]:
        """The period part of the query as given (no revision, no format), for links and forms."""
        return {k: self.data[k] for k in ("period", "start", "end") if self.data.get(k)}


def current_month() -> tuple[tuple[datetime, datetime], str]:
    now = timezone.now().astimezone(UTC)
    label = f"{now:%Y-%m}"
    return month_range(label, UTC), label


def month_picks(now: datetime | None = None) -> list[tuple[str, str]]:
    """(label, YYYY-MM) for the statement period quick picks: this and the last two UTC months."""
    now = (now or timezone.now()).astimezone(UTC)
    first = now.date().replace(day=1)
    out = [("This month", f"{first:%Y-%m}")]
    for _ in range(2):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append((f"{first:%B %Y}", f"{first:%Y-%m}"))
    return out


class MemberAddForm(forms.Form):
    """Add an existing user to a project by username, with a role."""

    username = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["role"].choices = Role.choices
        self.fields["role"].initial = Role.VIEWER

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise forms.ValidationError(f"no user named {name!r}")
        existing = Membership.objects.filter(project=self.project, user=user).first()
        if existing is not None:
            raise forms.ValidationError(f"{name} is already a {existing.get_role_display().lower()} of "
                                        f"{self.project.slug}; change the role in the list below")
        return user


class MemberRoleForm(forms.Form):
    """Change one member's role (``membership`` is the row's id)."""

    membership = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices

"""Forms of the web pages: the report period, the user's timezone, provider accounts.

The period form parses dates with ``metering.periods`` so the page, the CSV and the command line
agree on what a period is; bad input becomes a field error shown inline, never a 500.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from django import forms
from django.utils import timezone

from metering.periods import PeriodError, day_range, parse_date
from providers import registry
from providers.base import Driver, Setting, SettingsError
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
    required = spec.required and not secret_kept
    help_text = spec.help
    if spec.secret:
        if secret_kept:
            help_text = (help_text + " " if help_text else "") + "Stored; leave empty to keep it."
        return forms.CharField(label=spec.name, required=required, help_text=help_text,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    if spec.type == "bool":
        return forms.BooleanField(label=spec.name, required=False, help_text=help_text,
                                  initial=bool(spec.default))
    if spec.type == "choice":
        choices = [("", "—")] if not spec.required else []
        return forms.ChoiceField(label=spec.name, required=required, help_text=help_text,
                                 choices=choices + [(c, c) for c in spec.choices], initial=spec.default)
    return forms.CharField(label=spec.name, required=required, help_text=help_text,
                           initial=spec.default if spec.default is not None else "")


class ProviderAccountForm(forms.Form):
    """Add or edit one account; its driver's settings schema becomes fields.

    Settings fields are named ``setting_<name>``, credentials ``credential_<name>``. Stored
    credentials are never rendered: on edit, an empty credential field keeps the stored value.
    The driver's own ``validate`` decides, and its field errors land on the matching fields.
    """

    name = forms.CharField(max_length=63, validators=[NAME_VALIDATOR])
    refresh_interval = forms.IntegerField(min_value=10, initial=300, label="Refresh interval (seconds)")
    enabled = forms.BooleanField(required=False, initial=True)

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

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        clash = ProviderAccount.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"an account named {name!r} already exists")
        return name

    def clean(self):
        data = super().clean()
        raw_settings = {s.name: data.get(f"setting_{s.name}") for s in self.driver_class.settings_schema}
        raw_settings = {k: v for k, v in raw_settings.items() if v not in (None, "")}
        kept = self.instance.credentials if self.instance is not None else {}
        raw_credentials = {}
        for spec in self.driver_class.credentials_schema:
            value = data.get(f"credential_{spec.name}")
            if value:
                raw_credentials[spec.name] = value
            elif spec.name in kept:
                raw_credentials[spec.name] = kept[spec.name]
        try:
            data["settings"], data["credentials"] = self.driver_class.validate(raw_settings, raw_credentials)
        except SettingsError as exc:
            names = {s.name for s in self.driver_class.settings_schema}
            for key, message in exc.errors.items():
                field = f"setting_{key}" if key in names else f"credential_{key}"
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{key}: {message}")
        return data

    def save(self) -> ProviderAccount:
        account = self.instance or ProviderAccount(kind=self.kind)
        account.name = self.cleaned_data["name"]
        account.refresh_interval = self.cleaned_data["refresh_interval"]
        account.enabled = self.cleaned_data["enabled"]
        account.settings = self.cleaned_data["settings"]
        account.credentials = self.cleaned_data["credentials"]
        account.full_clean(exclude=["credentials_encrypted"])
        account.save()
        return account

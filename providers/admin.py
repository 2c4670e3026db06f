"""Django admin for provider accounts: settings validated by the driver, credentials write-only.

Credentials are typed as a JSON object and stored encrypted; the form never renders them back
(leave the field empty to keep what is stored). Settings and credentials are checked with the
driver's own ``validate``, and each bad field is reported on the form field it came from.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin

from providers import registry
from providers.base import SettingsError
from providers.models import ProviderAccount


class ProviderAccountForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=())
    credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='a JSON object, e.g. {"password": "..."}; stored encrypted and never shown. '
                  "Leave empty to keep the stored credentials.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "settings", "credentials", "refresh_interval", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, k) for k in registry.kinds()]
        self.fields["credentials"].initial = ""
        self._credentials = None

    def clean_credentials(self):
        raw = (self.cleaned_data.get("credentials") or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("must be a JSON object of name: value")
        return value

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind or "settings" not in cleaned or "credentials" not in cleaned:
            return cleaned
        settings = cleaned.get("settings") or {}
        if not isinstance(settings, dict):
            self.add_error("settings", "must be a JSON object of name: value")
            return cleaned
        given = cleaned.get("credentials")
        keep = given is None and self.instance.pk and self.instance.kind == kind
        credentials = self.instance.credentials if keep else (given or {})
        driver_class = registry.driver_class(kind)
        try:
            cleaned["settings"], self._credentials = driver_class.validate(settings, credentials)
        except SettingsError as exc:
            secret = {s.name for s in driver_class.credentials_schema}
            for name, message in exc.errors.items():
                self.add_error("credentials" if name in secret else "settings", f"{name}: {message}")
        return cleaned

    def save(self, commit=True):
        account = super().save(commit=False)
        if self._credentials is not None:
            account.credentials = self._credentials
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "kind", "enabled", "health", "last_refresh_finished", "refresh_interval"]
    list_filter = ["kind", "enabled", "health"]
    search_fields = ["name"]
    readonly_fields = ["health", "health_message", "health_checked_at", "last_refresh_started",
                       "last_refresh_finished", "last_refresh_duration", "last_refresh_counts",
                       "last_refresh_error", "last_observed_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "settings", "credentials", "refresh_interval", "enabled"]}),
        ("Health and last refresh", {"fields": readonly_fields}),
    ]

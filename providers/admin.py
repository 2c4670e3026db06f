"""Django admin for provider accounts: settings validated by the driver, credentials write-only.

Credentials are typed as a JSON object and stored encrypted; the form never renders them back
(leave the field empty to keep what is stored). Settings and credentials go through
``ProviderAccount.configure`` (the same service as the portal, the API and the ``provider``
command), and each bad field is reported on the form field it came from.

"Test connection" (an action on the list, and a button on an account's page) checks saved accounts
against their providers through ``providers.connection_check``, as the portal's button and the
``provider test`` command do, and reports what each one found; nothing is written. Testing settings
before they are saved is the portal form's, the API's and the command's job.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from providers import connection_check, registry
from providers.configure import ConfigurationError
from providers.models import ProviderAccount


class ProviderAccountForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=())
    credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='a JSON object, e.g. {"password": "..."}; stored encrypted and never shown. '
                  "Leave empty to keep the stored credentials (they are dropped, and must be entered "
                  "again, when the kind or the endpoint changes).",
    )

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "settings", "credentials", "refresh_interval", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, k) for k in registry.kinds()]
        self.fields["credentials"].initial = ""

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
        try:
            self.instance.configure(settings, cleaned.get("credentials"), kind=kind, save=False)
        except ConfigurationError as exc:
            if exc.kind:
                self.add_error("kind", exc.kind)
            for where, errors in (("settings", exc.settings), ("credentials", exc.credentials)):
                for name, message in errors.items():
                    self.add_error(where, f"{name}: {message}")
        else:
            cleaned["settings"] = self.instance.settings
        return cleaned


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "kind", "enabled", "refresh_interval"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "settings", "credentials", "refresh_interval", "enabled"]}),
        ("Record", {"fields": readonly_fields}),
    ]
    actions = ["test_connection"]
    # the collector's state (health, last refresh) is added by ``metering.admin``

    @admin.action(description="Test connection of the selected accounts (nothing is saved)",
                  permissions=["view"])
    def test_connection(self, request, queryset):
        for account in queryset:
            report(request, account)

    def get_urls(self):
        test = self.admin_site.admin_view(self.test_view)
        return [path("<int:pk>/test-connection/", test, name="providers_provideraccount_test"), *super().get_urls()]

    def test_view(self, request, pk: int):
        """The change page's "Test connection" button: check the saved account, back to its page."""
        account = get_object_or_404(ProviderAccount, pk=pk)
        if not self.has_view_or_change_permission(request, account):
            raise PermissionDenied
        report(request, account)
        return redirect(reverse("admin:providers_provideraccount_change", args=[account.pk]))


def report(request, account: ProviderAccount) -> None:
    """One message per account: what its provider answered, or why the check failed."""
    try:
        result = connection_check.check(None, account=account)
    except ConfigurationError as exc:  # stored settings the driver no longer accepts (an upgraded driver)
        messages.error(request, f"{account.name}: the stored settings are not valid: {exc}")
        return
    if result.ok:
        messages.success(request, f"{account.name}: {result.message}")
    else:
        messages.error(request, f"{account.name}: {result.problem_label}: {result.message}")

"""Django admin for personal access tokens: list, inspect and revoke (never see the secret).

Tokens are issued with ``manage.py token create`` and shown once there, because the plain
token must be shown exactly once; the admin cannot show it and does not create tokens.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.models import PersonalAccessToken


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{n} token(s) revoked")


# -- users and groups: Django's admin, with permission and group ids bounded ---------------------------

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


class GlasspaneUserAdmin(BoundedIdsMixin, UserAdmin):
    pass


class GlasspaneGroupAdmin(BoundedIdsMixin, GroupAdmin):
    pass


for _model, _admin in ((get_user_model(), GlasspaneUserAdmin), (Group, GlasspaneGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)

"""Django admin for personal access tokens: list, inspect and revoke (never see the secret).

Tokens are issued with ``manage.py token create`` and shown once there, because the plain
token must be shown exactly once; the admin cannot show it and does not create tokens.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.utils import timezone

from metering.admin import BoundedIdsMixin
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

class GlasspaneUserAdmin(BoundedIdsMixin, UserAdmin):
    pass


class GlasspaneGroupAdmin(BoundedIdsMixin, GroupAdmin):
    pass


for _model, _admin in ((get_user_model(), GlasspaneUserAdmin), (Group, GlasspaneGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)


# the admin names the product, not the framework
admin.site.site_header = "Glasspane administration"
admin.site.site_title = "Glasspane administration"
admin.site.index_title = "Inventory, metering, quotas and chargeback"

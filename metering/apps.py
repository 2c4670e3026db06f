from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = "Metering"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save

        from metering.bulk import register_array_dumper
        from metering.models import CollectionState
        from metering.quotas import signals  # noqa: F401  (breach detection after every refresh)
        from providers.models import ProviderAccount

        def give_state(sender, instance, created, raw=False, **kwargs):
            if created and not raw:
                CollectionState.objects.get_or_create(account=instance)

        connection_created.connect(register_array_dumper, dispatch_uid="metering.array_dumper")
        post_save.connect(give_state, sender=ProviderAccount, dispatch_uid="metering.collection_state",
                          weak=False)

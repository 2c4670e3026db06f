"""The collector's state (health, last refresh, lease) moved to ``metering.CollectionState``,
which copied it first (``metering`` 0012)."""

from django.db import migrations

MOVED = ("health", "health_message", "health_checked_at", "last_refresh_started", "last_refresh_finished",
         "last_refresh_duration", "last_refresh_counts", "last_refresh_error", "last_observed_at",
         "refresh_lease_owner", "refresh_lease_until")


class Migration(migrations.Migration):

    dependencies = [
        ("providers", "0001_initial"),
        ("metering", "0012_collection_state"),
    ]

    operations = [migrations.RemoveField(model_name="provideraccount", name=name) for name in MOVED]

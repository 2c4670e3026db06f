"""Joins the usage report's covering index on daily rollups (0017_daily_usage_project_index) with
the rest of this round's migrations."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("metering", "0017_daily_usage_project_index"),
        ("metering", "0019_ledger_idle_hosts"),
    ]

    operations = []

"""Joins the daily usage rollups to the merged line. No schema change."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('metering', '0011_daily_usage_rollups'),
        ('metering', '0015_merge_portal'),
    ]

    operations = [
    ]

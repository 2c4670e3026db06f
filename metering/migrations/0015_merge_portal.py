"""Joins the portal's migrations (quota breach plural, measure labels in GiB) to the merged line. No schema change."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('metering', '0012_measure_labels_in_gib'),
        ('metering', '0014_merge_parallel_work'),
    ]

    operations = [
    ]

"""Utilization samples become range-partitioned by day on PostgreSQL (``metering.partitions``);
SQLite keeps the plain table. The model does not change: Django sees the same table."""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    from metering import partitions

    if schema_editor.connection.vendor == "postgresql" and not partitions.is_partitioned(schema_editor.connection):
        partitions.partition_table(schema_editor.connection, settings.GLASSPANE_RAW_RETENTION)


def backwards(apps, schema_editor):
    from metering import partitions

    if partitions.is_partitioned(schema_editor.connection):
        partitions.unpartition_table(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("metering", "0009_lifecycle_event"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

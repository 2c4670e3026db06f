"""Joins the ledger's change log (0017_ledger_change) with idle allocation (0017_idle_allocation):
the hosts an idle-capacity rule names decide statements too, so writes to them move the ledger's
version like every other table in 0017_ledger_change.TABLES."""

from importlib import import_module

from django.db import migrations

ledger = import_module("metering.migrations.0017_ledger_change")
TABLES = ["metering_allocationrule_hosts"]


def create(apps, schema_editor):
    ledger.create_triggers(apps, schema_editor, TABLES)


def drop(apps, schema_editor):
    ledger.drop_triggers(apps, schema_editor, TABLES, function=False)


class Migration(migrations.Migration):

    dependencies = [
        ("metering", "0017_ledger_change"),
        ("metering", "0018_merge_push_idle"),
    ]

    operations = [migrations.RunPython(create, drop)]

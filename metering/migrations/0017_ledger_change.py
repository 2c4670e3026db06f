"""The ledger's change log and the triggers that fill it (``metering.ledger``).

PostgreSQL: one row per statement (``FOR EACH STATEMENT``, TRUNCATE included) on every table a
report, statement or comparison reads; rows are appended, never updated, so concurrent writers
never wait for each other. SQLite has only row triggers: one row per row written (development).
"""

from django.db import migrations, models

#: every table whose rows a usage report, statement, ranking or on-premises comparison reads
TABLES = [
    "metering_usagesegment", "metering_resource", "metering_utilizationrollup", "metering_project",
    "providers_provideraccount", "metering_rate", "metering_rateplan", "metering_projectrateplan",
    "metering_fixedcost", "metering_allocationrule", "metering_allocationrule_targets",
    "metering_exchangerate", "metering_hostcost", "metering_pricesheet", "metering_pricesheetentry",
]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION glasspane_ledger_changed() RETURNS trigger AS $$
BEGIN
    INSERT INTO metering_ledgerchange (at) VALUES (clock_timestamp());
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor, tables=TABLES):
    with schema_editor.connection.cursor() as cur:
        if schema_editor.connection.vendor == "postgresql":
            cur.execute(PG_FUNCTION)
            for table in tables:
                cur.execute(f"CREATE TRIGGER {table}_ledger AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                            f"FOR EACH STATEMENT EXECUTE FUNCTION glasspane_ledger_changed()")
        elif schema_editor.connection.vendor == "sqlite":
            for table in tables:
                for event in ("INSERT", "UPDATE", "DELETE"):
                    cur.execute(f"CREATE TRIGGER {table}_ledger_{event.lower()} AFTER {event} ON {table} "
                                f"BEGIN INSERT INTO metering_ledgerchange (at) "
                                f"VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now')); END")


def drop_triggers(apps, schema_editor, tables=TABLES, function=True):
    with schema_editor.connection.cursor() as cur:
        for table in tables:
            if schema_editor.connection.vendor == "postgresql":
                cur.execute(f"DROP TRIGGER IF EXISTS {table}_ledger ON {table}")
            else:
                for event in ("insert", "update", "delete"):
                    cur.execute(f"DROP TRIGGER IF EXISTS {table}_ledger_{event}")
        if function and schema_editor.connection.vendor == "postgresql":
            cur.execute("DROP FUNCTION IF EXISTS glasspane_ledger_changed()")


class Migration(migrations.Migration):

    dependencies = [
        ("metering", "0016_merge_daily_usage"),
        ("providers", "0002_collection_state_moved"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("at", models.DateTimeField(help_text="the writer's clock when the row was written")),
            ],
            options={"db_table": "metering_ledgerchange"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]

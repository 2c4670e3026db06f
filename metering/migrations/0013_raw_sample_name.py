"""``UtilizationSample`` (the stored row) is now ``RawSample``, so the name ``UtilizationSample``
means only what a driver reports (``providers.base``). A rename in Django's state only: the table
keeps its name, so nothing is rewritten."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("metering", "0012_collection_state"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameModel("UtilizationSample", "RawSample"),
                migrations.AlterModelTable("RawSample", "metering_utilizationsample"),
            ],
            database_operations=[],
        ),
    ]

"""Joins the lines of migrations that grew in parallel this round (ISO 4217 currencies; refresh runs'
skipped notes and idempotency keys; external project quotas, collection state, raw samples). No
schema change."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('metering', '0011_currency_iso4217'),
        ('metering', '0012_provisionrequest_idempotency_key'),
        ('metering', '0013_raw_sample_name'),
    ]

    operations = [
    ]

"""On PostgreSQL, index the search keys with varchar_pattern_ops so that LIKE 'prefix%' is an index range scan
whatever the database collation; SQLite uses the plain indexes with range conditions instead."""

from django.db import migrations

COLUMNS = ["number", "name", "name_pinyin", "name_initials", "phone_digits", "phone_reversed",
           "phone_alt_digits", "email_normalized", "company_key"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS customer_{column}_like ON customers_customer ("{column}" varchar_pattern_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{column}_like")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]

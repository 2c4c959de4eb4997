"""Index the search keys for prefix search, in the way each database can use.

PostgreSQL: varchar_pattern_ops, so LIKE 'prefix%' is an index range scan whatever the collation (these also
serve equality). SQLite: plain B-trees, searched with range conditions (its LIKE optimisation needs NOCASE
columns). One index per key and database keeps inserts cheap: bulk imports write every index of the table.
The customer number is covered by its unique constraint (and Django's own _like index on PostgreSQL).
"""

from django.db import migrations

COLUMNS = ["name", "name_pinyin", "name_initials", "phone_digits", "phone_reversed", "phone_alt_digits",
           "email_normalized", "company_key"]


def create(apps, schema_editor):
    """Create the search-key indexes that are missing (safe to run again after a table rebuild)."""
    vendor = schema_editor.connection.vendor
    for column in COLUMNS:
        if vendor == "postgresql":
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS customer_{column}_like '
                                  f'ON customers_customer ("{column}" varchar_pattern_ops)')
        else:
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS customer_{column}_key ON customers_customer ("{column}")')


def drop(apps, schema_editor):
    suffix = "like" if schema_editor.connection.vendor == "postgresql" else "key"
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{column}_{suffix}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_created_at_default")]
    operations = [migrations.RunPython(create, drop)]

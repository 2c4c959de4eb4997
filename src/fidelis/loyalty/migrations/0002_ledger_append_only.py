"""The database itself refuses to change a points entry: a trigger on UPDATE (Postgres and SQLite)."""

from django.db import migrations

PG_CREATE = """
CREATE OR REPLACE FUNCTION loyalty_points_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'points entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER loyalty_points_entry_no_update BEFORE UPDATE ON loyalty_pointsentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_points_entry_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS loyalty_points_entry_no_update ON loyalty_pointsentry;
DROP FUNCTION IF EXISTS loyalty_points_entry_append_only();
"""
SQLITE_CREATE = """
CREATE TRIGGER IF NOT EXISTS loyalty_points_entry_no_update BEFORE UPDATE ON loyalty_pointsentry
BEGIN
    SELECT RAISE(ABORT, 'points entries are append-only');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS loyalty_points_entry_no_update;"


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]

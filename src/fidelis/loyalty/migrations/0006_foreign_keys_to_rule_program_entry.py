"""Foreign keys in the database again from a points entry to its rule, from a lot to its entry and from an applied
event to its program (docs/decisions/loyalty-set-based-batches.md)."""

import django.db.models.deletion
from django.db import migrations, models

# SQLite rebuilds the entries' table to add the key, which drops its triggers: the append-only one comes back.
SQLITE_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS loyalty_points_entry_no_update BEFORE UPDATE ON loyalty_pointsentry
BEGIN
    SELECT RAISE(ABORT, 'points entries are append-only');
END;
"""


def append_only_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_APPEND_ONLY)


class Migration(migrations.Migration):

    dependencies = [
        ("loyalty", "0005_waiting_refund"),
    ]

    operations = [
        migrations.AlterField(
            model_name="appliedevent",
            name="program",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                    to="loyalty.program"),
        ),
        migrations.AlterField(
            model_name="pointsentry",
            name="rule",
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="entries",
                                    to="loyalty.rule", verbose_name="rule"),
        ),
        migrations.AlterField(
            model_name="pointslot",
            name="entry",
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="lot",
                                       to="loyalty.pointsentry"),
        ),
        migrations.RunPython(append_only_again, migrations.RunPython.noop),
    ]

"""Drop the indexes of foreign keys that lead a composite index anyway, the actor's index for entries without one,
and the LIKE index of the idempotency key: fewer index writes for every points entry, lot, purchase and applied
event. SQLite rebuilds the entries' table for this, which drops its append-only trigger: it is made again last."""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


append_only = importlib.import_module("fidelis.loyalty.migrations.0002_ledger_append_only")


def sqlite_trigger_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(append_only.SQLITE_CREATE)


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0003_webhooks'),
        ('loyalty', '0002_ledger_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='appliedevent',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='actor',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='by'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=160, null=True),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='loyalty.member', verbose_name='member'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='rule',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='loyalty.rule', verbose_name='rule'),
        ),
        migrations.AlterField(
            model_name='pointslot',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lots', to='loyalty.member'),
        ),
        migrations.AlterField(
            model_name='purchase',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='purchase_set', to='loyalty.member'),
        ),
        migrations.AddIndex(
            model_name='pointsentry',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='points_entry_actor_idx'),
        ),
        migrations.AddConstraint(
            model_name='pointsentry',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='points_entry_idempotency_unique'),
        ),
        migrations.RunPython(sqlite_trigger_again, migrations.RunPython.noop),
    ]

"""Fewer writes per order applied to the ledger:
- no index of the entries by order number or by event (no query reads them so);
- the applied events' unique index with the event first (it also serves looking them up by event);
- no database foreign key from purchases and applied events to their event (its check locks the event's row,
  writing its page again), from entries to their rule and applied events to their program (rows every writer's
  checks lock), nor from lots to their entry (written together);
- idempotency keys unique only where there is one (entries of rules have none);
- a purchase per member for an event, no longer one per event (a customer in two programs earns in both).
SQLite rebuilds the tables for this, which drops the entries' append-only trigger: it is made again last."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

# The same step as 0003's: make the entries' append-only trigger again after SQLite rebuilt the table.
leaner_indexes = importlib.import_module("fidelis.loyalty.migrations.0003_leaner_ledger_indexes")
sqlite_trigger_again = leaner_indexes.sqlite_trigger_again


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0006_partial_indexes'),
        ('loyalty', '0003_leaner_ledger_indexes'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='appliedevent',
            name='applied_event_unique',
        ),
        migrations.RemoveIndex(
            model_name='pointsentry',
            name='points_entry_order_idx',
        ),
        migrations.AlterField(
            model_name='appliedevent',
            name='event',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.event'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='event',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='events.event', verbose_name='event'),
        ),
        migrations.AlterField(
            model_name='purchase',
            name='event',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='events.event'),
        ),
        migrations.AddConstraint(
            model_name='appliedevent',
            constraint=models.UniqueConstraint(fields=('event', 'program'), name='applied_event_unique'),
        ),
        migrations.RemoveConstraint(
            model_name='pointsentry',
            name='points_entry_idempotency_unique',
        ),
        migrations.AddConstraint(
            model_name='pointsentry',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('idempotency_key',), name='points_entry_idempotency_unique'),
        ),
        migrations.AlterField(
            model_name='appliedevent',
            name='program',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='rule',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='loyalty.rule', verbose_name='rule'),
        ),
        migrations.AlterField(
            model_name='pointslot',
            name='entry',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='lot', to='loyalty.pointsentry'),
        ),
        migrations.RunPython(sqlite_trigger_again, migrations.RunPython.noop),
    ]

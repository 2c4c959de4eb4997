"""Fewer indexes to write for every event: the public id and the idempotency key unique by constraints (no LIKE
indexes on PostgreSQL), the type in a plain index (no LIKE index)."""

from django.conf import settings
from django.db import migrations, models

import fidelis.core.models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0004_leaner_indexes'),
        ('events', '0003_webhooks'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='event',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=120, null=True, verbose_name='idempotency key'),
        ),
        migrations.AlterField(
            model_name='event',
            name='public_id',
            field=models.CharField(default=fidelis.core.models.new_public_id, editable=False, max_length=16, verbose_name='public id'),
        ),
        migrations.AlterField(
            model_name='event',
            name='type',
            field=models.CharField(max_length=40, verbose_name='type'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['type'], name='event_type_idx'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('public_id',), name='event_public_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='event_idempotency_unique'),
        ),
    ]

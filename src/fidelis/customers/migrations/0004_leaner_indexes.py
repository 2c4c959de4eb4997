"""Fewer indexes to write for every imported customer: the public id unique by a constraint (no LIKE index on
PostgreSQL), and no index of their own for keys indexed first in a composite index (owner, the tag links, the
duplicate pairs). SQLite rebuilds the customers' table for this and forgets the search-key indexes of 0003: they
are made again last."""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import fidelis.core.models

search_keys = importlib.import_module("fidelis.customers.migrations.0003_search_key_indexes")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0003_search_key_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='customer',
            name='owner',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='owned_customers', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='public_id',
            field=models.CharField(default=fidelis.core.models.new_public_id, editable=False, max_length=16, verbose_name='public id'),
        ),
        migrations.AlterField(
            model_name='customertag',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='customers.customer'),
        ),
        migrations.AlterField(
            model_name='customertag',
            name='tag',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='customers.tag'),
        ),
        migrations.AlterField(
            model_name='duplicatecandidate',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer', verbose_name='customer'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('public_id',), name='customer_public_id_unique'),
        ),
        migrations.RunPython(search_keys.create, migrations.RunPython.noop),
    ]

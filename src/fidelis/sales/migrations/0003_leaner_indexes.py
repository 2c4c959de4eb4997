"""Fewer indexes to write for every order and line: the order's public id and idempotency key unique by
constraints (no LIKE indexes on PostgreSQL), no index of their own for keys indexed first in a composite index
(the order's customer and store, the line's product and category)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import fidelis.core.models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0004_leaner_indexes'),
        ('sales', '0002_pipeline'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='order',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='customers.customer', verbose_name='customer'),
        ),
        migrations.AlterField(
            model_name='order',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=120, null=True, verbose_name='idempotency key'),
        ),
        migrations.AlterField(
            model_name='order',
            name='public_id',
            field=models.CharField(default=fidelis.core.models.new_public_id, editable=False, max_length=16, verbose_name='public id'),
        ),
        migrations.AlterField(
            model_name='order',
            name='store',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='sales.store', verbose_name='store'),
        ),
        migrations.AlterField(
            model_name='orderline',
            name='category',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='sales.productcategory', verbose_name='category'),
        ),
        migrations.AlterField(
            model_name='orderline',
            name='product',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='sales.product', verbose_name='product'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('public_id',), name='sales_order_public_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='sales_order_idempotency_unique'),
        ),
    ]

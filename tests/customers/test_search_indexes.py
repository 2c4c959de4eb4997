import importlib

import pytest
from django.db import connection

search_indexes = importlib.import_module("fidelis.customers.migrations.0003_search_key_indexes")


@pytest.mark.django_db
def test_search_key_indexes_exist_after_migrating():
    suffix = "like" if connection.vendor == "postgresql" else "key"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "customers_customer")
    missing = [c for c in search_indexes.COLUMNS if f"customer_{c}_{suffix}" not in constraints]
    assert missing == []

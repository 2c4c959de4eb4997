import pytest

from fidelis.accounts.models import AuditEntry
from fidelis.core.errors import PermissionDenied
from fidelis.customers.exports import csv_stream, customers_export_start, neutralise
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_neutralise_prefixes_formula_starts():
    assert [neutralise(v) for v in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx", "张三")] == [
        "'=1+1", "'+86", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "张三"]


def test_customers_export_start_filters_and_audits(manager):
    CustomerFactory(name="=HYPERLINK(\"x\")", value_tier="high")
    CustomerFactory(name="李四", value_tier="low")
    qs = customers_export_start(actor=manager, filters={"value_tier": "high"}, fmt="csv")
    text = "".join(csv_stream(qs))
    assert text.startswith("\ufeff") and "'=HYPERLINK" in text and "李四" not in text
    audit = AuditEntry.objects.get(action="customer.export")
    assert audit.changes["count"] == [None, 1] and audit.changes["filter"] == [None, {"value_tier": "high"}]


def test_customers_export_start_needs_the_export_capability(sales):
    with pytest.raises(PermissionDenied):
        customers_export_start(actor=sales, filters={}, fmt="csv")
    assert not AuditEntry.objects.filter(action="customer.export").exists()

"""The one bulk writer (fidelis.core.bulk.rows_insert) on both databases."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from fidelis.core.bulk import INSERT_BATCH, ids_reserve, rows_insert
from fidelis.customers.models import Customer, DuplicateCandidate, Tag
from fidelis.events.models import Event, PendingDispatch
from fidelis.sales.models import Order
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_rows_insert_takes_field_names_and_attnames_and_fills_the_other_columns():
    # given: two customers, and a moment in the past
    a, b = CustomerFactory(), CustomerFactory()
    when = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    # when: a foreign key named by its field name, another by its attname; a float, a default and auto_now left out
    with transaction.atomic():
        rows_insert(DuplicateCandidate, ("customer", "other_id", "reason", "score"), [(a.pk, b.pk, "phone", 0.75)])
        rows_insert(Order, ("public_id", "order_no", "customer_id", "subtotal", "paid_amount", "paid_at"),
                    iter([("p1", "B-1", a.pk, Decimal("12.50"), 10, when)]), fixed={"note": "imported"})
    # then
    pair = DuplicateCandidate.objects.get()
    assert (pair.customer_id, pair.other_id, pair.reason, pair.score, pair.status) == (a.pk, b.pk, "phone", 0.75,
                                                                                         "open")
    assert pair.created_at is not None and pair.updated_at is not None
    order = Order.objects.get()
    assert (order.subtotal, order.paid_amount, order.discount, order.paid_at) == (Decimal("12.50"), Decimal("10"),
                                                                                   Decimal("0"), when)
    assert order.note == "imported" and order.idempotency_key in (None, "") and order.created_by_id is None


def test_rows_insert_writes_keys_json_and_times_as_the_orm_reads_them():
    # given
    customer = CustomerFactory()
    now = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    pks = ids_reserve(Event, 2)
    payloads = [{"amount": "1.00", "lines": [{"sku": "狗粮", "quantity": 2}]}, {}]
    # when: the key given, created_at (auto_now_add) given as a fixed value
    with transaction.atomic():
        rows_insert(Event, ("id", "public_id", "customer", "type", "occurred_at", "payload"),
                    [(pk, f"e{pk}", customer.pk, "order.paid", now, payload)
                     for pk, payload in zip(pks, payloads, strict=True)],
                    fixed={"created_at": now, "channel": "import"})
        rows_insert(PendingDispatch, ("event", "type"), [(pks[0], "order.paid")])
    # then
    events = list(Event.objects.filter(pk__in=pks).order_by("pk"))
    assert [e.payload for e in events] == payloads
    assert all(e.occurred_at == now and e.created_at == now and e.channel == "import" for e in events)
    assert PendingDispatch.objects.get().historical is False


def test_rows_insert_writes_more_rows_than_a_batch_from_a_generator():
    # given
    count = INSERT_BATCH + 5
    # when
    with transaction.atomic():
        rows_insert(Tag, ("name",), ((f"tag{i}",) for i in range(count)))
    # then: every row, each with its defaults
    assert Tag.objects.count() == count
    assert set(Tag.objects.values_list("color", flat=True)) == {"#5b6abf"}
    assert Tag.objects.filter(created_at__isnull=True).count() == 0


def test_rows_insert_of_no_rows_writes_nothing():
    with transaction.atomic():
        rows_insert(Customer, ("name",), [])
    assert not Customer.objects.exists()


def test_rows_insert_dates_read_back_on_both_databases():
    with transaction.atomic():
        rows_insert(Customer, ("public_id", "number", "name", "birthday"), [("c1", "N1", "张三", date(1990, 5, 6))])
    customer = Customer.objects.get()
    assert customer.birthday == date(1990, 5, 6) and customer.created_at.tzinfo is not None

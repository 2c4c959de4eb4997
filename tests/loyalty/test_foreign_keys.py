"""The ledger's references hold in the database: to the rule, the program and the entry by foreign keys; to the
event (no key in the database, docs/decisions/ledger-dropped-foreign-keys.md) by going with the customer."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty.models import AppliedEvent, PointsEntry, PointsLot, Purchase, Rule

pytestmark = pytest.mark.django_db(transaction=True)


def _paid(member, order_no="FK1"):
    return record_event(customer=member.customer, type="order.paid", channel="store",
                        payload={"amount": "300.00", "order_no": order_no}, idempotency_key=f"fk:{order_no}")[0]


def _raw_delete(model, pk) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608


def test_a_rule_with_entries_cannot_be_deleted_by_django_or_by_sql(member):
    entry = PointsEntry.objects.filter(member=member, rule__isnull=False).first()
    with pytest.raises(ProtectedError):
        entry.rule.delete()
    with pytest.raises(IntegrityError):
        _raw_delete(Rule, entry.rule_id)
    assert Rule.objects.filter(pk=entry.rule_id).exists()


def test_applied_events_and_lots_point_at_rows_that_exist(member):
    _paid(member)
    with connection.cursor() as cursor:  # the database checks them: a program and an entry that are not there
        for sql in ("UPDATE loyalty_appliedevent SET program_id = -1", "UPDATE loyalty_pointslot SET entry_id = -1"):
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute(sql)
    assert AppliedEvent.objects.filter(program=member.program).count() >= 2


def test_a_customer_deleted_takes_the_ledger_rows_of_their_events_along(member):
    event = _paid(member)
    assert Purchase.objects.filter(event=event).exists() and PointsEntry.objects.filter(event=event).exists()
    event_ids = list(Event.objects.filter(customer=member.customer).values_list("pk", flat=True))
    member.customer.delete()
    assert not Event.objects.filter(pk__in=event_ids).exists()
    for model in (AppliedEvent, Purchase, PointsEntry):
        assert not model.objects.filter(event_id__in=event_ids).exists(), model.__name__
    assert not PointsLot.objects.filter(member_id=member.pk).exists()

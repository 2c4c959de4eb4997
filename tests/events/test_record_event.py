import pytest
from django.db import transaction

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.events.registry import _handlers, on_event
from fidelis.events.services import record_event
from tests.factories import CustomerFactory


@pytest.fixture
def handler_log():
    """Register a handler for a test-only event type and remove it afterwards."""
    seen: list[int] = []

    @on_event("test.pinged")
    def remember(event_id: int) -> None:
        seen.append(event_id)

    yield seen
    _handlers["test.pinged"].remove(remember)


@pytest.mark.django_db
def test_record_event_same_idempotency_key_twice_gives_one_event():
    customer = CustomerFactory()
    first, created_first = record_event(customer=customer, type="order.paid", idempotency_key="pos-1",
                                        payload={"amount": "99.00"})
    second, created_second = record_event(customer=customer, type="order.paid", idempotency_key="pos-1",
                                          payload={"amount": "99.00"})
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Event.objects.filter(idempotency_key="pos-1").count() == 1


@pytest.mark.django_db
def test_record_event_key_reused_for_another_customer_is_refused_and_writes_nothing():
    a, b = CustomerFactory(), CustomerFactory()
    record_event(customer=a, type="order.paid", idempotency_key="pos-2", payload={"amount": "1.00"})
    with pytest.raises(DomainError) as err:
        record_event(customer=b, type="order.paid", idempotency_key="pos-2", payload={"amount": "1.00"})
    assert err.value.code == "idempotency_conflict"
    assert not Event.objects.filter(customer=b).exists()


@pytest.mark.django_db
def test_record_event_bad_type_is_refused():
    with pytest.raises(DomainError) as err:
        record_event(customer=CustomerFactory(), type="nodot")
    assert err.value.field == "type"


@pytest.mark.django_db(transaction=True)
def test_record_event_dispatches_to_handlers_after_commit_only(handler_log):
    customer = CustomerFactory()
    with transaction.atomic():
        event, _ = record_event(customer=customer, type="test.pinged")
        assert handler_log == []  # nothing runs before the commit
    assert handler_log == [event.pk]


@pytest.mark.django_db(transaction=True)
def test_record_event_rolled_back_dispatches_nothing(handler_log):
    customer = CustomerFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(customer=customer, type="test.pinged")
        raise RuntimeError("abort")
    assert handler_log == []
    assert not Event.objects.filter(type="test.pinged").exists()

import pytest
from django.db import transaction
from django.utils import timezone

from fidelis.core.errors import DomainError
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.registry import _handlers, on_event
from fidelis.events.services import record_event, record_event_rows
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
    assert not PendingDispatch.objects.exists()


@pytest.fixture
def batch_log():
    """A batch handler and a handler that fails on events whose payload says so, for a test-only type."""
    batches: list[list[int]] = []
    singles: list[int] = []

    @on_event("test.batched", batch=True)
    def remember_batch(event_ids: list[int]) -> None:
        batches.append(list(event_ids))

    @on_event("test.batched")
    def fail_some(event_id: int) -> None:
        event = Event.objects.get(pk=event_id)
        Event.objects.create(customer_id=event.customer_id, type="test.side_effect")
        if event.payload.get("fail"):
            raise ValueError("this one fails")
        singles.append(event_id)

    yield batches, singles
    _handlers["test.batched"].remove(remember_batch)
    _handlers["test.batched"].remove(fail_some)


@pytest.mark.django_db(transaction=True)
def test_a_worker_dispatches_queued_events_in_batches_and_drops_only_the_one_that_fails(batch_log, caplog):
    from fidelis.config.celery import app
    from fidelis.events.dispatch import dispatch_pending

    batches, singles = batch_log
    customer = CustomerFactory()
    # given seven events queued while no worker runs (a broker that nobody reads: the message is not sent)
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            events = [record_event(customer=customer, type="test.batched", payload={"fail": i == 4})[0]
                      for i in range(7)]
            transaction.get_connection().run_on_commit.clear()
    finally:
        app.conf.task_always_eager = saved
    ids = [e.pk for e in events]
    assert set(PendingDispatch.objects.values_list("event_id", flat=True)) == set(ids)
    # when a worker takes them, three at a time
    assert dispatch_pending(limit=3) == 7
    # then the batch handler saw three batches in order; after the failure in the second batch that batch ran
    # again one event at a time (its handlers ran twice: they must be safe to), and in the database only the
    # failing event's effects are missing
    assert batches[0] == ids[:3] and batches[-1] == ids[6:]
    assert [ids[3]] in batches and [ids[5]] in batches
    assert sorted(set(singles)) == ids[:4] + ids[5:]
    assert Event.objects.filter(type="test.side_effect").count() == 6
    assert not PendingDispatch.objects.exists()
    assert "a handler failed" in caplog.text


def test_a_lingering_worker_looks_again_after_the_nudge_interval():
    # An event committed up to NUDGE_INTERVAL after a process's last message to a worker gets no message of its
    # own: the worker that takes the last one must look at the queue again after that interval.
    from fidelis.events import dispatch, services

    assert services.DISPATCH_LINGER > services.NUDGE_INTERVAL
    assert dispatch.LINGER_STEP <= services.DISPATCH_LINGER - services.NUDGE_INTERVAL


@pytest.mark.django_db(transaction=True)
def test_record_event_rows_write_events_queued_only_for_handlers_taking_history(handler_log):
    # given: a handler that does not take history, one that does, and two rows of an import
    @on_event("test.pinged", history=True)
    def takes_history(event_id: int) -> None:
        handler_log.append(-event_id)

    customer = CustomerFactory()
    payload = {"import": "job1"}
    rows = [(f"row{i}", customer.pk, "test.pinged", timezone.now(), "import", "", "x" * 250, payload, None, None)
            for i in range(3)]
    try:
        # when
        with transaction.atomic():
            pks = record_event_rows(rows, historical=True)
            assert PendingDispatch.objects.filter(event_id__in=pks, historical=True).count() == 3
    finally:
        _handlers["test.pinged"].remove(takes_history)
    # then: the rows are the events, dispatched after the commit to the handler that takes history only
    events = list(Event.objects.filter(pk__in=pks).order_by("pk"))
    assert [e.public_id for e in events] == ["row0", "row1", "row2"]
    assert all(e.payload == payload and len(e.summary) == 200 and e.created_at for e in events)
    assert sorted(handler_log) == sorted(-pk for pk in pks)


@pytest.mark.django_db
def test_record_event_rows_with_a_bad_type_write_nothing():
    customer = CustomerFactory()
    rows = [("ok", customer.pk, "test.fine", timezone.now(), "import", "", "", {}, None, None),
            ("bad", customer.pk, "nodot", timezone.now(), "import", "", "", {}, None, None)]
    with pytest.raises(DomainError) as refused:
        record_event_rows(rows)
    assert refused.value.code == "invalid_type" and not Event.objects.exists()

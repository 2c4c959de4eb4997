"""A broker that cannot be reached: what was committed is answered as committed, the sweep catches up.

The broker is a real URL on a closed port (nothing listens on 127.0.0.1:1), with sending on (not eager): the
same code a web process runs in production when Redis is down.
"""

import json
import logging
import time

import pytest

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.config.celery import app
from fidelis.events import services, tasks
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.services import record_event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, PointsEntry
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from tests.events.test_worker import _drop_connection_pools
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down():
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, CLOSED_PORT
    _drop_connection_pools()
    services._next_nudge[0] = float("-inf")
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        _drop_connection_pools()
        services._next_nudge[0] = float("-inf")


@pytest.fixture
def member(manager):
    """A member of the starter program (earns 1 point per CNY), enrolled while the broker was up."""
    program = starter_program(actor=manager, name="星河会员俱乐部")
    member, _created = member_enrol(actor=manager, program=program, customer=CustomerFactory(name="李静"),
                                    channel="store")
    member.refresh_from_db()
    return member


@pytest.fixture
def pos(manager):
    desk = UserFactory(username="desk", role=Role.SERVICE)
    _token, raw = api_token_create(actor=manager, user=desk, name="POS 1F",
                                   scopes=["loyalty:read", "loyalty:write", "events:write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post_order(client, pos, body, **headers):
    return client.post("/api/loyalty/orders", data=json.dumps(body), content_type="application/json",
                       **pos, **headers)


def test_an_order_posted_while_the_broker_is_down_is_answered_201_and_applied_once_by_the_sweep(
        client, member, pos, broker_down, caplog):
    before = member.balance
    # when: a till posts a sale while the broker cannot be reached
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="fidelis.events.tasks"):
        response = _post_order(client, pos, {"member": member.number, "order_no": "POS-DOWN-1", "amount": "300"})
    elapsed = time.monotonic() - started
    # then: the answer is the sale as committed, without waiting out the broker
    assert response.status_code == 201, response.content
    assert response.json()["points"] == 300
    assert elapsed < 5
    event = Event.objects.get(type="order.paid", payload__order_no="POS-DOWN-1")
    assert PendingDispatch.objects.filter(event=event).exists()
    assert "the broker did not take events.dispatch_pending" in caplog.text
    # and when: the sweep from Celery beat runs (a worker's view of it: no ids)
    tasks.dispatch_pending()
    tasks.dispatch_pending()
    # then: the queue is empty and the points were given once
    assert not PendingDispatch.objects.exists()
    member.refresh_from_db()
    assert member.balance == before + 300
    assert AppliedEvent.objects.filter(event=event).count() == 1
    assert PointsEntry.objects.filter(member=member, kind="earn", event=event).count() == 1
    assert set(ledger_check(member).values()) == {member.balance}


def test_the_retry_of_an_order_posted_while_the_broker_is_down_is_the_same_sale(client, member, pos, broker_down):
    # given: a sale answered while the broker is down
    first = _post_order(client, pos, {"member": member.number, "order_no": "POS-DOWN-2", "amount": "120"})
    # when: the till sends it again
    again = _post_order(client, pos, {"member": member.number, "order_no": "POS-DOWN-2", "amount": "120"})
    # then: one sale, one reward
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["balance"] == again.json()["balance"]
    assert Event.objects.filter(type="order.paid", payload__order_no="POS-DOWN-2").count() == 1


def test_a_worker_drains_the_whole_queue_while_the_broker_is_down(member, broker_down, settings):
    # given: more purchases queued than one batch holds; their handlers record events of their own (points.changed)
    settings.FIDELIS_DISPATCH_BATCH = 2
    events = [record_event(customer=member.customer, type="order.paid", idempotency_key=f"drain-{n}",
                           payload={"amount": "10", "order_no": f"D-{n}", "member": member.number})[0]
              for n in range(5)]
    assert PendingDispatch.objects.filter(event__in=events).count() == 5
    # when: a worker takes the message of the first one (the broker went away since)
    done = tasks.dispatch_pending([events[0].pk])
    # then: it went on past its first batch until the queue was empty
    assert done >= 5
    assert not PendingDispatch.objects.exists()
    member.refresh_from_db()
    assert AppliedEvent.objects.filter(event__in=events).count() == 5
    assert PointsEntry.objects.filter(member=member, kind="earn", event__in=events).count() == 5


def test_starting_a_scan_or_a_back_fill_while_the_broker_is_down_says_so_instead_of_a_500(client, manager, member,
                                                                                          broker_down):
    from django.urls import reverse

    client.force_login(manager)
    scan = client.post(reverse("customers:duplicates"), {"action": "scan"}, follow=True)
    assert scan.status_code == 200
    assert "could not be started" in scan.content.decode() or "无法" in scan.content.decode()
    backfill = client.post(reverse("loyalty:program_backfill", args=[member.program.public_id]), follow=True)
    assert backfill.status_code == 200
    assert not AppliedEvent.objects.filter(program=member.program, event__type="order.paid").exists()



def test_task_send_says_whether_the_broker_took_the_message_and_never_raises(broker_down, caplog):
    from fidelis.core.tasks import purge_idempotent_requests, task_send

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert task_send(purge_idempotent_requests) is False
    assert time.monotonic() - started < 10
    assert "did not take core.purge_idempotent_requests" in caplog.text

"""Invariants under concurrency and failure (Postgres: real row locks, a real worker killed mid-batch)."""

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.services import record_event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, EntryKind, Member, PointsEntry, Purchase
from fidelis.loyalty.services import member_enrol, points_adjust, points_pay
from tests.events.test_worker import REDIS_URL, _drop_connection_pools, _redis_up
from tests.factories import CustomerFactory, UserFactory
from tests.threads import at_once

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def test_fifty_concurrent_redemptions_against_a_balance_for_ten(program, member, manager):
    points_adjust(actor=manager, member=member, points=500, reason="测试")  # 500 + 500 welcome = 10 × 100
    results = at_once(50, lambda i: points_pay(actor=manager, member=member, points=100, order_ref=f"C{i}"))
    succeeded = [r for r in results if isinstance(r, PointsEntry)]
    refused = [r for r in results if getattr(r, "code", None) == "insufficient_points"]
    assert (len(succeeded), len(refused)) == (10, 40), [r for r in results if not isinstance(r, PointsEntry)][:3]
    assert ledger_check(member) == {"balance": 0, "entries": 0, "lots": 0}


def test_the_same_idempotency_key_twenty_times_at_once_is_one_effect(program, member, manager):
    desk = UserFactory(username="desk", role=Role.SERVICE)
    _token, raw = api_token_create(actor=manager, user=desk, name="pos", scopes=["loyalty:write", "events:write"])
    body = json.dumps({"member": member.number, "order_no": "SAME-1", "amount": "250.00"})

    def post(_i):
        response = Client().post("/api/loyalty/orders", data=body, content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_IDEMPOTENCY_KEY="till-7:SAME-1")
        return response.status_code, response.json()

    results = at_once(20, post)
    assert [r[0] for r in results] == [201] * 20, results[:3]
    assert all(r[1] == results[0][1] for r in results) and results[0][1]["balance"] == 750
    assert Event.objects.filter(type="order.paid", customer=member.customer).count() == 1
    assert Purchase.objects.filter(member=member).count() == 1
    pay = at_once(20, lambda i: points_pay(actor=manager, member=member, points=300, order_ref="P",
                                            idempotency_key="pay-same"))
    assert len({p.pk for p in pay if isinstance(p, PointsEntry)}) == 1, pay[:3]
    assert ledger_check(member) == {"balance": 450, "entries": 450, "lots": 450}


def _worker(tmp_path, **env_vars):
    db = connection.settings_dict
    env = {**os.environ, "CELERY_BROKER_URL": REDIS_URL, "FIDELIS_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
           **env_vars}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fidelis.config", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _applied(events):
    return AppliedEvent.objects.filter(event_id__in=events).count()


def test_a_worker_killed_mid_batch_then_restarted_applies_every_event_once(program, manager, tmp_path):
    if not _redis_up():
        pytest.skip("Redis is not running")
    import redis

    from fidelis.config.celery import app
    from fidelis.events.tasks import dispatch_pending

    redis.Redis.from_url(REDIS_URL).flushdb()
    members = [member_enrol(actor=manager, program=program, customer=CustomerFactory())[0] for _i in range(5)]
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, REDIS_URL
    _drop_connection_pools()
    first = None
    try:
        # 200 events queued while no worker runs; then a worker that commits ten at a time is killed half-way.
        events = []
        for i in range(200):
            event, _new = record_event(customer=members[i % 5].customer, type="order.paid",
                                       payload={"amount": "10.00", "order_no": f"K{i}"}, idempotency_key=f"k{i}")
            events.append(event.pk)
        first = _worker(tmp_path, FIDELIS_DISPATCH_BATCH="10")
        deadline = time.monotonic() + 60
        while _applied(events) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # no warm shutdown: whatever it was doing is cut off
        first.wait(10)
        applied_at_kill = _applied(events)
        assert 0 < applied_at_kill < 200
        second = _worker(tmp_path)
        try:
            # The killed worker's batch was rolled back: its events are queued still, for the messages left and
            # for the sweep that Celery beat sends every minute (sent here at once).
            dispatch_pending.delay()
            deadline = time.monotonic() + 120
            while _applied(events) < 200 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            second.terminate()
            second.wait(20)
    finally:
        if first is not None and first.poll() is None:
            first.kill()
        app.conf.task_always_eager, app.conf.broker_url = saved
        _drop_connection_pools()
    assert AppliedEvent.objects.filter(event_id__in=events).count() == 200
    assert not PendingDispatch.objects.filter(event_id__in=events).exists()
    earn = PointsEntry.objects.filter(event_id__in=events, kind=EntryKind.EARN)
    assert earn.count() == 200 and {e.points for e in earn} == {10}
    for m in Member.objects.filter(pk__in=[m.pk for m in members]):
        assert ledger_check(m) == {"balance": 500 + 400, "entries": 900, "lots": 900}
        assert Purchase.objects.filter(member=m).count() == 40
    assert Decimal(sum(p.amount for p in Purchase.objects.filter(member__in=members))) == Decimal("2000.00")

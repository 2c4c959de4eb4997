"""Events dispatched through a real Celery worker over the Redis broker (PostgreSQL: the worker shares the DB)."""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from fidelis.config.celery import app
from fidelis.customers.models import LifecycleStage
from fidelis.events.services import record_event
from tests.factories import CustomerFactory

REDIS_URL = os.environ.get("FIDELIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _drop_connection_pools() -> None:
    # The app caches its broker connection pools on first use; a changed broker_url needs fresh ones.
    from kombu import pools

    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's process-wide producer pools, keyed by connection, were closed above too


@pytest.fixture
def worker(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot see the in-memory SQLite test database")
    if not _redis_up():
        pytest.skip("Redis is not running")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    db = connection.settings_dict
    env = {**os.environ, "CELERY_BROKER_URL": REDIS_URL, "FIDELIS_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fidelis.config", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, REDIS_URL
    _drop_connection_pools()
    try:
        yield proc
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        _drop_connection_pools()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.postgres_only
def test_dispatch_event_runs_in_a_celery_worker(worker):
    # given a follower, when a purchase event is recorded and committed
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.FOLLOWER)
    record_event(customer=customer, type="order.paid", payload={"amount": "120.00"})
    # then the worker process applies the funnel rule
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        customer.refresh_from_db()
        if customer.lifecycle_stage == LifecycleStage.BUYER:
            break
        assert worker.poll() is None, worker.stdout.read().decode(errors="replace")
        time.sleep(0.3)
    if customer.lifecycle_stage != LifecycleStage.BUYER:
        worker.terminate()
        pytest.fail("worker did not apply the event:\n" + worker.communicate(timeout=20)[0].decode(errors="replace"))

"""Sending work to the Celery workers, and housekeeping shared by every app (Celery beat)."""

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from fidelis.core.idempotency import idempotent_requests_purge

log = logging.getLogger(__name__)


def task_send(task, *args) -> bool:
    """Send a task to the workers, best effort; return whether the broker took it.

    For work whose state is in the database already (queued events, due webhook deliveries, a scan a beat task
    runs anyway): a message that cannot be sent is logged, never raised, so that the caller still gets the answer
    for what it committed. One attempt (`retry=False`) with the broker's short connect timeout (`config.celery`),
    not Celery's publish retries: a request must not wait out a broker that is down. Without a broker the task
    runs in this process, and its errors reach the caller.
    """
    from fidelis.config.celery import app

    if app.conf.task_always_eager:
        task.apply_async(args)
        return True
    try:
        task.apply_async(args, retry=False)
    except (OperationalError, OSError):
        log.warning("the broker did not take %s", task.name, exc_info=True)
        return False
    except Exception:
        log.exception("%s was not sent", task.name)
        return False
    return True


@shared_task(name="core.purge_idempotent_requests")
def purge_idempotent_requests() -> int:
    """Forget the kept answers of idempotent API requests older than a day; return how many."""
    return idempotent_requests_purge()

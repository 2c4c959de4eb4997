"""Housekeeping shared by every app (Celery beat)."""

from celery import shared_task

from fidelis.core.idempotency import idempotent_requests_purge


@shared_task(name="core.purge_idempotent_requests")
def purge_idempotent_requests() -> int:
    """Forget the kept answers of idempotent API requests older than a day; return how many."""
    return idempotent_requests_purge()

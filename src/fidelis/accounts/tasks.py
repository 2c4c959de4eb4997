"""Scheduled work of accounts: expired sessions removed (Celery beat, daily)."""

from celery import shared_task
from django.utils import timezone

from fidelis.accounts.models import Session


@shared_task(name="accounts.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete the sessions whose expiry date has passed (as `fidelis clearsessions`); return how many."""
    deleted, _by_model = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted

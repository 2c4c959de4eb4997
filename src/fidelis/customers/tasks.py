"""Background work of the customer archive."""

from celery import shared_task

from fidelis.accounts.models import User
from fidelis.customers.dedupe import duplicates_scan


@shared_task(name="customers.duplicates_scan")
def duplicates_scan_task(actor_id: int | None = None) -> int:
    """Look for duplicate customers across the archive; return how many new pairs await review."""
    actor = User.objects.filter(pk=actor_id, is_active=True).first() if actor_id else None
    return duplicates_scan(actor=actor)

"""Scheduled work of sales: contract expiry reminders (Celery beat, hourly)."""

from celery import shared_task

from fidelis.sales.pipeline import contract_expiry_reminders as _contract_expiry_reminders


@shared_task(name="sales.contract_expiry_reminders")
def contract_expiry_reminders() -> dict[str, int]:
    """Give the owner of each contract ending soon a to-do (once), and mark ended contracts expired."""
    return _contract_expiry_reminders()

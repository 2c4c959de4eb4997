"""Scheduled work of the pipeline: contract expiry reminders (Celery beat, hourly)."""

from celery import shared_task

from fidelis.pipeline import services


@shared_task(name="pipeline.contract_expiry_reminders")
def contract_expiry_reminders() -> dict[str, int]:
    """Announce each contract ending soon (once; work gives its owner a to-do), and mark ended contracts expired."""
    return services.contract_expiry_reminders()

"""Scheduled work of tasks: reminders by e-mail (Celery beat, every minute)."""

from celery import shared_task

from fidelis.work.reminders import reminders_send_due


@shared_task(name="work.send_due_reminders")
def send_due_reminders() -> dict[str, int]:
    """Send every reminder whose time has come, once each; return the counts (sent, no_email, failed)."""
    return reminders_send_due()

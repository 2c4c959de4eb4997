"""Task reminders by e-mail, sent by the beat task `work.send_due_reminders` every minute.

A reminder is due when an open task's `remind_at` has come and `reminded_at` is empty. A worker claims a
batch of due reminders under a row lock (skip_locked, so that a second worker takes the next ones instead of
waiting), counts the attempt and keeps the rows out of reach for a lease; it then sends one message per task
to its owner over the configured SMTP connection, in the owner's language, and marks `reminded_at`. When the
server refuses (connection refused, 4xx/5xx answer), the reminder is tried again after 1, 2, 4 … minutes (at
most an hour apart), up to 8 attempts; `remind_error` keeps the last answer. Owners without an e-mail address
get no mail (their home page shows the task); the reminder is marked as handled and counted.

Delivery is at least once: a worker that dies between the send and the mark lets the lease run out, and the
reminder goes out again.
"""

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.work.models import Task, TaskStatus

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# Far longer than sending a batch takes: only a worker that died half-way lets its claim go to a later run.
CLAIM_LEASE = timedelta(minutes=5)
BATCH = 50


@dataclass
class ReminderRun:
    sent: int = 0
    no_email: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "no_email": self.no_email, "failed": self.failed}


def reminders_due(now: datetime) -> QuerySet[Task]:
    """Return the open tasks whose reminder is due and not yet sent (nor waiting for its next attempt)."""
    return (Task.objects.filter(status=TaskStatus.OPEN, remind_at__lte=now, reminded_at__isnull=True,
                                remind_attempts__lt=MAX_ATTEMPTS)
            .filter(Q(remind_retry_at__isnull=True) | Q(remind_retry_at__lte=now)))


def retry_delay(attempts: int) -> timedelta:
    """Return the wait after the given number of failed attempts: doubling from a minute, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _claim(now: datetime, limit: int) -> list[Task]:
    with transaction.atomic(durable=True):
        # Two workers (or two overlapping beat ticks) must never mail the same reminder: the row lock
        # (PostgreSQL; SQLite's write transaction is exclusive anyway) makes the claim theirs alone.
        tasks = list(reminders_due(now).select_for_update(skip_locked=True, of=("self",))
                     .select_related("owner", "customer").order_by("remind_at", "pk")[:limit])
        if tasks:
            Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
                remind_attempts=F("remind_attempts") + 1, remind_retry_at=now + CLAIM_LEASE)
            for task in tasks:
                task.remind_attempts += 1
    return tasks


def _mark(task: Task, **fields) -> None:
    # Only while the claim is still this worker's: after a lease ran out, the newer attempt owns the row.
    Task.objects.filter(pk=task.pk, remind_attempts=task.remind_attempts, reminded_at__isnull=True) \
        .update(**fields, updated_at=timezone.now())


def reminder_message(task: Task, connection=None) -> EmailMessage:
    """Return the reminder e-mail of a task, written in its owner's language."""
    owner = task.owner
    with translation.override(owner.language or settings.LANGUAGE_CODE):
        mall_tz = timezone.get_default_timezone()
        context = {
            "task": task, "owner": owner, "customer": task.customer,
            "due": timezone.localtime(task.due_at, mall_tz).strftime("%Y-%m-%d %H:%M"),
            "time_zone": str(mall_tz), "link": settings.FIDELIS_SITE_URL + task.get_absolute_url(),
            "customer_link": (settings.FIDELIS_SITE_URL + reverse("customers:detail", args=[task.customer.public_id])
                              if task.customer_id else ""),
        }
        subject = _("Reminder: %(title)s") % {"title": task.title}
        body = render_to_string("work/email/reminder.txt", context)
    return EmailMessage(subject=subject.replace("\n", " ")[:200], body=body, to=[owner.email],
                        connection=connection)


def reminders_send_due(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Send the due reminders, each once; return how many were sent, skipped for lack of an address, failed."""
    run = ReminderRun()
    connection = None
    try:
        while run.sent + run.no_email + run.failed < limit:
            moment = now or timezone.now()
            batch = _claim(moment, min(BATCH, limit - run.sent - run.no_email - run.failed))
            if not batch:
                break
            for task in batch:
                if not task.owner.email:
                    _mark(task, reminded_at=moment, remind_retry_at=None, remind_error="no e-mail address")
                    run.no_email += 1
                    continue
                if connection is None:
                    connection = get_connection(fail_silently=False)
                try:
                    reminder_message(task, connection).send()
                except (smtplib.SMTPException, OSError) as exc:
                    # Start the next message on a fresh connection: this one may be in any state now.
                    connection.close()
                    _mark(task, remind_retry_at=moment + retry_delay(task.remind_attempts),
                          remind_error=(str(exc) or exc.__class__.__name__)[:300])
                    run.failed += 1
                else:
                    _mark(task, reminded_at=timezone.now(), remind_retry_at=None, remind_error="")
                    run.sent += 1
    finally:
        if connection is not None:
            connection.close()
    return run.as_dict()

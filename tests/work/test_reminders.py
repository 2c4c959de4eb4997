"""Reminders by e-mail, through a real SMTP server (aiosmtpd) on a free local port: sent once, retried when
refused, in the owner's language, with the due time in the mall's time zone and a link."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.models import Role
from fidelis.config.celery import app as celery_app
from fidelis.work.models import Task
from fidelis.work.reminders import MAX_ATTEMPTS, reminders_send_due
from fidelis.work.services import task_cancel, task_create
from fidelis.work.tasks import send_due_reminders
from tests.factories import UserFactory
from tests.mail import free_port

pytestmark = pytest.mark.django_db
SHANGHAI = timezone.get_default_timezone()


@pytest.fixture
def rep(db):
    return UserFactory(username="lixf", role=Role.SALES, display_name="李晓峰", email="lixf@xinghe-mall.cn")


def _due_task(actor, owner, customer=None, **kwargs):
    due = timezone.now() + timedelta(minutes=5)
    return task_create(actor=actor, owner=owner, title=kwargs.pop("title", "美容预约前致电李太太"), due_at=due,
                       remind_before=10, customer=customer, **kwargs)


def test_a_due_reminder_is_mailed_to_the_owner_once(smtp, manager, rep):
    # given: a task for a customer, reminded 10 minutes before it is due (that is, now)
    from fidelis.customers.services import customer_create

    customer = customer_create(actor=manager, data={"name": "李太太", "phone": "13900139000"}, owner=rep)
    task = _due_task(rep, rep, customer, notes="确认周六上午 10 点的美容预约")
    # when
    first = reminders_send_due()
    again = reminders_send_due(now=timezone.now() + timedelta(minutes=30))
    # then: one message, to the owner, in Chinese (the default), with the task, the customer, the time, a link
    assert first == {"sent": 1, "no_email": 0, "failed": 0}
    assert again == {"sent": 0, "no_email": 0, "failed": 0}
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["lixf@xinghe-mall.cn"]
    assert message["To"] == "lixf@xinghe-mall.cn" and message["From"] == "crm@xinghe-mall.cn"
    with translation.override("zh-hans"):
        assert message["Subject"] == _("Reminder: %(title)s") % {"title": "美容预约前致电李太太"}
    body = message.get_content()
    assert "客户: 李太太" in body  # a word the Chinese catalogue has
    due_local = timezone.localtime(task.due_at, SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert "美容预约前致电李太太" in body and f"{due_local} (Asia/Shanghai)" in body
    assert f"李太太 ({customer.number})" in body and "确认周六上午 10 点的美容预约" in body
    assert f"https://crm.xinghe-mall.cn/work/{task.public_id}/" in body
    assert f"https://crm.xinghe-mall.cn/customers/{customer.public_id}/" in body
    task.refresh_from_db()
    assert task.reminded_at is not None and task.remind_attempts == 1 and task.remind_error == ""


def test_the_reminder_is_written_in_the_owners_language(smtp, manager):
    owner = UserFactory(username="amy", role=Role.SERVICE, email="amy@xinghe-mall.cn", language="en")
    _due_task(manager, owner, title="Call Mrs Li")
    reminders_send_due()
    _recipients, message = smtp.messages[0]
    assert message["Subject"] == "Reminder: Call Mrs Li"
    assert "A task is due:" in message.get_content() and "customer: " not in message.get_content()
    assert "priority: Normal" in message.get_content()


def test_a_refused_reminder_is_tried_again_later_and_then_sent_once(smtp, rep):
    # given: the server answers "try again later"
    task = _due_task(rep, rep)
    smtp.refuse = "451 4.3.0 Mailbox temporarily unavailable"
    # when
    refused = reminders_send_due()
    # then: nothing delivered, the error kept, the next attempt a minute later
    assert refused == {"sent": 0, "no_email": 0, "failed": 1}
    task.refresh_from_db()
    assert task.reminded_at is None and task.remind_attempts == 1 and "451" in task.remind_error
    assert task.remind_retry_at > timezone.now()
    # Not before its time …
    assert reminders_send_due() == {"sent": 0, "no_email": 0, "failed": 0}
    # … and once the server accepts again, sent exactly once.
    smtp.refuse = None
    later = task.remind_retry_at + timedelta(seconds=1)
    assert reminders_send_due(now=later) == {"sent": 1, "no_email": 0, "failed": 0}
    assert reminders_send_due(now=later + timedelta(hours=1)) == {"sent": 0, "no_email": 0, "failed": 0}
    assert len(smtp.messages) == 1
    task.refresh_from_db()
    assert task.reminded_at is not None and task.remind_attempts == 2 and task.remind_error == ""


def test_an_smtp_server_that_is_down_is_a_failure_to_retry(settings, rep):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens there
    task = _due_task(rep, rep)
    assert reminders_send_due() == {"sent": 0, "no_email": 0, "failed": 1}
    task.refresh_from_db()
    assert task.reminded_at is None and task.remind_retry_at is not None and task.remind_error


def test_reminders_stop_after_the_last_attempt(smtp, rep):
    task = _due_task(rep, rep)
    smtp.refuse = "554 5.7.1 Rejected"
    moment = timezone.now()
    for _attempt in range(MAX_ATTEMPTS + 2):
        reminders_send_due(now=moment)
        moment += timedelta(hours=2)
    task.refresh_from_db()
    assert task.remind_attempts == MAX_ATTEMPTS and task.reminded_at is None


def test_owners_without_an_address_get_no_mail_and_are_counted(smtp, manager, users):
    _due_task(manager, users[Role.SERVICE])  # the service user has no e-mail address
    assert reminders_send_due() == {"sent": 0, "no_email": 1, "failed": 0}
    assert smtp.messages == []
    assert reminders_send_due() == {"sent": 0, "no_email": 0, "failed": 0}


def test_future_done_and_cancelled_tasks_are_not_reminded(smtp, rep):
    task_create(actor=rep, title="明天", due_at=timezone.now() + timedelta(days=1))
    task_cancel(actor=rep, task=_due_task(rep, rep, title="取消了"))
    task_create(actor=rep, title="不提醒", due_at=timezone.now() - timedelta(minutes=1), remind_before=None)
    assert reminders_send_due() == {"sent": 0, "no_email": 0, "failed": 0}
    assert smtp.messages == []


def test_the_celery_task_sends_and_the_beat_schedule_runs_it_every_minute(smtp, rep):
    _due_task(rep, rep)
    assert send_due_reminders.delay().get() == {"sent": 1, "no_email": 0, "failed": 0}
    assert len(smtp.messages) == 1
    schedule = {entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["work.send_due_reminders"] == 60.0
    assert "work.send_due_reminders" in celery_app.tasks


def test_the_due_time_is_shown_in_the_malls_time_zone(smtp, rep):
    due = datetime(2030, 1, 2, 1, 30, tzinfo=timezone.get_fixed_timezone(0))  # 09:30 in Shanghai
    task = task_create(actor=rep, title="时区", due_at=due, remind_before=0)
    reminders_send_due(now=due)
    assert "2030-01-02 09:30" in smtp.messages[0][1].get_content()
    assert Task.objects.get(pk=task.pk).reminded_at is not None

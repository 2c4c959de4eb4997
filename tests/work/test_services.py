"""Task services: create, change, complete (with recurrence), reopen, cancel, snooze; bad input writes nothing."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, NotFound, PermissionDenied
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.services import customer_create
from fidelis.events.models import Event, WebhookEndpoint
from fidelis.work.models import Task, TaskStatus
from fidelis.work.services import (
    task_cancel,
    task_complete,
    task_create,
    task_reopen,
    task_snooze,
    task_update,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _counts():
    return Task.objects.count(), AuditEntry.objects.filter(action__startswith="task.").count(), \
        Event.objects.filter(type__startswith="task.").count()


def test_task_create_reminds_at_the_due_time_and_writes_audit_and_timeline(sales, my_customer, soon):
    # when
    task = task_create(actor=sales, title="美容预约前致电李太太", due_at=soon, customer=my_customer)
    # then
    task.refresh_from_db()
    assert (task.owner, task.created_by, task.customer, task.status) == (sales, sales, my_customer, TaskStatus.OPEN)
    assert task.remind_at == task.due_at and task.reminded_at is None
    assert len(task.public_id) == 16
    audit = AuditEntry.objects.get(action="task.create", object_id=task.public_id)
    assert audit.actor == sales and audit.changes["title"] == [None, "美容预约前致电李太太"]
    event = Event.objects.get(customer=my_customer, type="task.created")
    assert event.payload["task"] == task.public_id and event.actor == sales
    assert event.payload["owner"] == "sales"


def test_task_create_reminds_minutes_before_or_not_at_all(sales, soon):
    early = task_create(actor=sales, title="提前提醒", due_at=soon, remind_before=30)
    silent = task_create(actor=sales, title="不提醒", due_at=soon, remind_before=None)
    assert early.remind_at == soon - timedelta(minutes=30)
    assert silent.remind_at is None
    # A task without a customer leaves no event behind.
    assert not Event.objects.filter(type__startswith="task.").exists()


def test_task_create_due_in_the_past_is_accepted(sales):
    task = task_create(actor=sales, title="补记", due_at="2020-01-02 09:30")
    assert timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M") == "2020-01-02 09:30"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"due_at": "2026-13-45 10:00"}, "due_at"),
    ({"due_at": "tomorrow-ish"}, "due_at"),
    ({"remind_at": "not a date"}, "remind_at"),
    ({"remind_before": -5}, "remind_before"),
    ({"title": "  "}, "title"),
    ({"owner": "nobody"}, "owner"),
    ({"owner": 999_999}, "owner"),
    ({"priority": 9}, "priority"),
    ({"recurrence_days": -3}, "recurrence_days"),
    ({"recurrence_days": 400}, "recurrence_days"),
])
def test_task_create_bad_input_is_refused_naming_the_field_and_writes_nothing(sales, soon, kwargs, field):
    # given
    before = _counts()
    args = {"title": "回访", "due_at": soon} | kwargs
    # when
    with pytest.raises(DomainError) as caught:
        task_create(actor=sales, **args)
    # then
    assert caught.value.field == field
    assert _counts() == before


def test_task_create_with_the_reminder_after_the_due_time_is_refused(sales, my_customer, soon):
    before = _counts()
    with pytest.raises(DomainError) as caught:
        task_create(actor=sales, title="回访", due_at=soon, remind_at=soon + timedelta(minutes=1), customer=my_customer)
    assert (caught.value.code, caught.value.field) == ("remind_after_due", "remind_at")
    assert _counts() == before


def test_task_create_for_a_customer_the_rep_may_not_see_is_refused(sales, other_customer, soon):
    before = _counts()
    with pytest.raises(NotFound) as caught:
        task_create(actor=sales, title="偷看", due_at=soon, customer=other_customer.public_id)
    assert caught.value.field == "customer"
    assert _counts() == before


def test_task_create_for_an_owner_who_cannot_see_the_customer_is_refused(manager, rep2, my_customer, soon):
    with pytest.raises(DomainError) as caught:
        task_create(actor=manager, title="回访", due_at=soon, customer=my_customer, owner=rep2)
    assert (caught.value.code, caught.value.field) == ("owner_cannot_see_customer", "owner")
    assert not Task.objects.exists()


def test_task_create_for_an_inactive_or_readonly_owner_is_refused(manager, users, soon):
    gone = UserFactory(username="gone", role=Role.SALES, is_active=False)
    for owner in (gone, users[Role.READONLY]):
        with pytest.raises(DomainError) as caught:
            task_create(actor=manager, title="回访", due_at=soon, owner=owner)
        assert caught.value.field == "owner"
    assert not Task.objects.exists()


def test_task_create_by_a_readonly_user_is_forbidden(users, soon):
    with pytest.raises(PermissionDenied):
        task_create(actor=users[Role.READONLY], title="只读", due_at=soon)


def test_task_create_links_a_related_object(manager, soon):
    endpoint = WebhookEndpoint.objects.create(name="ERP", url="https://erp.example.cn/hook", event_types=["*"])
    customer = customer_create(actor=manager, data={"name": "关联客户"})
    task = task_create(actor=manager, title="检查对接", due_at=soon, related=endpoint)
    other = task_create(actor=manager, title="客户", due_at=soon, related=customer)
    assert Task.objects.get(pk=task.pk).related_object == endpoint
    assert Task.objects.get(pk=other.pk).related_object == customer
    endpoint.delete()
    assert Task.objects.get(pk=task.pk).related_object is None


def test_task_update_moves_the_reminder_with_the_due_time_and_sends_it_again(sales, soon):
    # given: a reminder 15 minutes ahead that was already sent
    task = task_create(actor=sales, title="回访", due_at=soon, remind_before=15)
    Task.objects.filter(pk=task.pk).update(reminded_at=timezone.now())
    task.refresh_from_db()
    # when
    later = soon + timedelta(days=1)
    task_update(actor=sales, task=task, data={"due_at": later, "title": "回访（改期）"})
    # then
    task.refresh_from_db()
    assert (task.due_at, task.remind_at, task.reminded_at) == (later, later - timedelta(minutes=15), None)
    audit = AuditEntry.objects.get(action="task.update", object_id=task.public_id)
    assert set(audit.changes) == {"title", "due_at", "remind_at"}


def test_task_update_with_a_malformed_date_changes_nothing(sales, soon):
    task = task_create(actor=sales, title="回访", due_at=soon)
    with pytest.raises(DomainError) as caught:
        task_update(actor=sales, task=task, data={"title": "新标题", "due_at": "2026-02-30 10:00"})
    assert caught.value.field == "due_at"
    task.refresh_from_db()
    assert task.title == "回访" and not AuditEntry.objects.filter(action="task.update").exists()


def test_task_update_unknown_field_is_refused(sales, soon):
    task = task_create(actor=sales, title="回访", due_at=soon)
    with pytest.raises(DomainError) as caught:
        task_update(actor=sales, task=task, data={"status": "done"})
    assert caught.value.field == "status"


def test_a_rep_cannot_change_another_reps_task(sales, rep2, soon):
    theirs = task_create(actor=rep2, title="别人的", due_at=soon)
    for call in (lambda: task_update(actor=sales, task=theirs, data={"title": "x"}),
                 lambda: task_complete(actor=sales, task=theirs),
                 lambda: task_snooze(actor=sales, task=theirs, until=soon + timedelta(hours=1))):
        with pytest.raises(NotFound):
            call()
    theirs.refresh_from_db()
    assert (theirs.title, theirs.status) == ("别人的", TaskStatus.OPEN)


def test_a_manager_reassigns_a_task_to_another_rep(manager, sales, rep2, soon):
    task = task_create(actor=sales, title="交接", due_at=soon)
    task_update(actor=manager, task=task, data={"owner": "sales2"})
    task.refresh_from_db()
    assert task.owner == rep2
    assert AuditEntry.objects.get(action="task.update").changes["owner"] == ["sales", "sales2"]


def test_task_complete_writes_done_at_audit_and_timeline(sales, my_customer, soon):
    task = task_create(actor=sales, title="回访", due_at=soon, customer=my_customer)
    done = task_complete(actor=sales, task=task)
    assert done.status == TaskStatus.DONE and done.done_at is not None
    assert Event.objects.filter(customer=my_customer, type="task.done").count() == 1
    # Done twice is done once.
    task_complete(actor=sales, task=task)
    assert Event.objects.filter(customer=my_customer, type="task.done").count() == 1
    assert AuditEntry.objects.filter(action="task.complete").count() == 1


def test_task_complete_of_a_recurring_task_opens_the_next_one_once(sales, my_customer):
    # given: every 14 days at 10:30, reminded an hour before
    tz = timezone.get_current_timezone()
    due = datetime(2026, 11, 20, 10, 30, tzinfo=tz)
    task = task_create(actor=sales, title="定期回访", due_at=due, remind_before=60, recurrence_days=14,
                       customer=my_customer)
    done_at = datetime(2026, 11, 21, 16, 0, tzinfo=tz)
    # when
    task_complete(actor=sales, task=task, now=done_at)
    # then: the next one is due 14 days after completion at the same time, with the same lead
    following = Task.objects.get(previous=task)
    assert timezone.localtime(following.due_at) == datetime(2026, 12, 5, 10, 30, tzinfo=tz)
    assert following.remind_at == following.due_at - timedelta(hours=1)
    assert (following.status, following.recurrence_days, following.customer, following.owner) == (
        TaskStatus.OPEN, 14, my_customer, sales)
    # Reopening and completing again does not open a second one.
    task_reopen(actor=sales, task=task)
    task_complete(actor=sales, task=task, now=done_at + timedelta(days=1))
    assert Task.objects.filter(previous=task).count() == 1
    assert Task.objects.count() == 2


def test_task_cancel_then_complete_is_refused_and_reopen_opens_again(sales, my_customer, soon):
    task = task_create(actor=sales, title="取消", due_at=soon, customer=my_customer)
    task_cancel(actor=sales, task=task)
    with pytest.raises(DomainError) as caught:
        task_complete(actor=sales, task=task)
    assert caught.value.code == "not_open"
    task_reopen(actor=sales, task=task)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and task.done_at is None
    types = list(Event.objects.filter(customer=my_customer, type__startswith="task.").order_by("id")
                 .values_list("type", flat=True))
    assert types == ["task.created", "task.cancelled", "task.reopened"]


def test_task_snooze_moves_due_and_reminder_and_sends_the_reminder_again(sales, soon):
    task = task_create(actor=sales, title="稍后", due_at=soon, remind_before=10)
    Task.objects.filter(pk=task.pk).update(reminded_at=timezone.now(), remind_attempts=1)
    task.refresh_from_db()
    until = soon + timedelta(days=1)
    task_snooze(actor=sales, task=task, until=until)
    task.refresh_from_db()
    assert (task.due_at, task.remind_at, task.reminded_at, task.remind_attempts) == (
        until, until - timedelta(minutes=10), None, 0)
    assert AuditEntry.objects.filter(action="task.snooze", object_id=task.public_id).exists()


def test_task_snooze_to_the_past_is_refused(sales, soon):
    task = task_create(actor=sales, title="稍后", due_at=soon)
    with pytest.raises(DomainError) as caught:
        task_snooze(actor=sales, task=task, until=timezone.now() - timedelta(minutes=1))
    assert caught.value.field == "until"
    task.refresh_from_db()
    assert task.due_at == soon


def test_tasks_follow_the_kept_record_when_customers_are_merged(manager, soon):
    keep = customer_create(actor=manager, data={"name": "陈静", "phone": "13800000001"})
    absorb = customer_create(actor=manager, data={"name": "陈静", "phone": "13800000002"})
    task = task_create(actor=manager, title="回访", due_at=soon, customer=absorb)
    customers_merge(actor=manager, keep=keep, absorb=absorb)
    task.refresh_from_db()
    assert task.customer == keep

"""Writes on tasks and follow-up rules: each is one transaction with an audit row and, for a task about a
customer, an event on the customer's timeline (task.created, task.done, task.reopened, task.cancelled)."""

import string
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from fidelis.accounts.models import Role, User
from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, NotFound, PermissionDenied, full_clean_or_raise
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_require_writable, customer_visible_qs
from fidelis.events.models import INTERACTION_TYPES, Channel, Event, InteractionOutcome
from fidelis.events.services import record_event
from fidelis.work.errors import WorkCode
from fidelis.work.models import FollowUpRule, FollowUpTrigger, Task, TaskPriority, TaskSource, TaskStatus
from fidelis.work.selectors import task_visible_qs

# What task_update accepts.
TASK_FIELDS = ("title", "notes", "due_at", "remind_at", "remind_before", "owner", "customer", "priority",
               "recurrence_days", "related")
RULE_FIELDS = ("name", "is_active", "trigger", "delay_days", "due_time", "store", "min_amount", "assignee",
               "title_template", "priority", "remind_before")
TITLE_PLACEHOLDERS = ("customer", "order_no", "amount", "store")
MAX_REMIND_BEFORE = 60 * 24 * 30


# Parsing and checks shared by the services


def parse_when(value: Any, field: str) -> datetime | None:
    """Return an aware datetime from a datetime or an ISO text ("2026-11-23 15:00"); DomainError naming the field."""
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip().replace("/", "-"))
        except ValueError:
            parsed = None
    if parsed is None:
        raise DomainError(_("“%(value)s” is not a date and time (YYYY-MM-DD HH:MM).") % {"value": value},
                          code=WorkCode.INVALID_DATE, field=field)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _minutes(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("Give the minutes as a whole number."), code=WorkCode.NOT_A_NUMBER, field=field)
    if not 0 <= minutes <= MAX_REMIND_BEFORE:
        raise DomainError(_("The reminder must come between 0 minutes and 30 days before the due time."),
                          code=WorkCode.REMIND_OUT_OF_RANGE, field=field)
    return minutes


def _resolve_owner(value: Any) -> User:
    """Return the active user a task may be given to, from a user, a pk or a user name."""
    user = None
    if isinstance(value, User):
        user = value
    elif isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        user = User.objects.filter(pk=int(value)).first()
    elif isinstance(value, str) and value.strip():
        user = User.objects.filter(username=value.strip()).first()
    if user is None or not user.is_active:
        raise DomainError(_("No such active user: %(value)s") % {"value": value}, code=WorkCode.UNKNOWN_OWNER,
                          field="owner")
    if not has_capability(user, "task.change"):
        raise DomainError(_("%(user)s may not work on tasks.") % {"user": user}, code=WorkCode.INVALID_OWNER,
                          field="owner")
    return user


def _resolve_customer(actor, value: Any) -> Customer | None:
    """Return the customer (an instance or a public id / customer number) if the actor may see it."""
    if value is None or value == "":
        return None
    qs = customer_visible_qs(actor) if actor is not None else Customer.objects.active()
    if isinstance(value, Customer):
        found = qs.filter(pk=value.pk).first()
    else:
        text = str(value).strip()
        found = qs.filter(public_id=text).first() or qs.filter(number=text.upper()).first()
    if found is None:
        raise NotFound(_("No such customer."), code=WorkCode.NOT_FOUND, field="customer")
    return found


def _check_owner_sees_customer(owner: User, customer: Customer | None) -> None:
    if customer is not None and not customer_visible_qs(owner).filter(pk=customer.pk).exists():
        raise DomainError(_("%(user)s cannot see this customer; give the task to its owner.") % {"user": owner},
                          code=WorkCode.OWNER_CANNOT_SEE_CUSTOMER, field="owner")


def _require_task_change(actor) -> None:
    if actor is not None and not has_capability(actor, "task.change"):
        raise PermissionDenied(_("Your role may not change tasks."), code=WorkCode.FORBIDDEN)


def _lock_visible(actor, task: Task) -> Task:
    """Return the task's row locked for this change; NotFound when the actor may not see it."""
    _require_task_change(actor)
    qs = task_visible_qs(actor) if actor is not None else Task.objects.all()
    # Lock the row: two clicks on "done" must not both see an open task (and both open the next occurrence).
    locked = qs.select_for_update(of=("self",)).select_related("customer", "owner").filter(pk=task.pk).first()
    if locked is None:
        raise NotFound(_("No such task."), code=WorkCode.NOT_FOUND)
    return locked


def _validate(task: Task) -> None:
    if not task.title:
        raise DomainError(_("A task needs a title."), code=WorkCode.REQUIRED, field="title")
    if task.remind_at is not None and task.remind_at > task.due_at:
        raise DomainError(_("The reminder cannot come after the due time."), code=WorkCode.REMIND_AFTER_DUE,
                          field="remind_at")
    full_clean_or_raise(task, exclude=["owner", "created_by", "customer", "related_type", "rule", "source_event",
                                       "previous"], validate_unique=False, validate_constraints=False)


def _snapshot(task: Task) -> dict[str, Any]:
    return {
        "title": task.title, "notes": task.notes,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "remind_at": task.remind_at.isoformat() if task.remind_at else None,
        "owner": task.owner.username if task.owner_id else None,
        "customer": task.customer.number if task.customer_id else None,
        "priority": task.priority, "recurrence_days": task.recurrence_days, "status": task.status,
        "related": f"{task.related_type_id}:{task.related_id}" if task.related_type_id else None,
    }


def _timeline(task: Task, type: str, actor, **payload: Any) -> None:
    if task.customer_id is None:
        return
    record_event(customer=task.customer, type=type, actor=actor,
                 payload={"task": task.public_id, "title": task.title, "due_at": task.due_at.isoformat(),
                          "owner": task.owner.username, **payload})


def _set_related(task: Task, related: Any) -> None:
    if related is None:
        task.related_type, task.related_id = None, ""
        return
    if getattr(related, "pk", None) is None:
        raise DomainError(_("The related object is not saved."), code=WorkCode.RELATED_NOT_SAVED, field="related")
    task.related_type = ContentType.objects.get_for_model(related)
    task.related_id = str(related.pk)


# Interactions

INTERACTION_TEXT_MAX = 2000


@transaction.atomic(durable=True)
def interaction_log(*, actor, customer: Customer, type: str, channel: str, outcome: str = "", text: str = "",
                    follow_up_at: datetime | str | None = None, follow_up_title: str = "", via: str = "web") -> Event:
    """Record a call, visit, message, e-mail or note with a customer on their timeline (the event is the record,
    with the actor), and the follow-up task when a time is given; return the event."""
    _require_task_change(actor)
    customer_require_writable(customer)
    if type not in INTERACTION_TYPES:
        raise DomainError(_("Choose what happened: a call, a visit, a message, an e-mail or a note."),
                          code=WorkCode.INVALID_INTERACTION, field="type")
    if channel not in Channel.values:
        raise DomainError(_("Choose the channel."), code=WorkCode.INVALID_CHANNEL, field="channel")
    if outcome and outcome not in InteractionOutcome.values:
        raise DomainError(_("Choose an outcome from the list."), code=WorkCode.INVALID_OUTCOME, field="outcome")
    text = (text or "").strip()
    if not text and not outcome:
        raise DomainError(_("Write what was said, or choose the outcome."), code=WorkCode.REQUIRED, field="text")
    if len(text) > INTERACTION_TEXT_MAX:
        raise DomainError(_("At most %(n)s characters.") % {"n": INTERACTION_TEXT_MAX}, code=WorkCode.TOO_LONG,
                          field="text")
    event, _new = record_event(customer=customer, type=type, actor=actor, channel=channel,
                               payload={"outcome": outcome, "text": text})
    due = parse_when(follow_up_at, "follow_up_at")
    if due is not None:
        title = (follow_up_title or "").strip() or _("Follow up with %(name)s") % {"name": customer.name}
        task_create(actor=actor, title=title, due_at=due, customer=customer, source_event=event, notes=text,
                    via=via)
    audit_record(actor=actor, action="customer.interaction_log", obj=customer, via=via,
                 changes={"type": [None, type], "outcome": [None, outcome], "follow_up": [None, bool(due)]})
    return event


# Tasks


@transaction.atomic
def task_create(*, actor, title: str, due_at: datetime | str, owner: Any = None, customer: Any = None,
                notes: str = "", remind_before: int | None = 0, remind_at: datetime | str | None = None,
                priority: int = TaskPriority.NORMAL, recurrence_days: int | None = None, related: Any = None,
                source: str = TaskSource.MANUAL, rule: FollowUpRule | None = None, source_event=None,
                source_order_no: str = "", idempotency_key: str | None = None, via: str = "web") -> Task:
    """Create a task; it reminds its owner at the due time, `remind_before` minutes earlier, at `remind_at`,
    or not at all (remind_before None); the owner is the actor unless another user is named."""
    _require_task_change(actor)
    due = parse_when(due_at, "due_at")
    if due is None:
        raise DomainError(_("A task needs a due time."), code=WorkCode.REQUIRED, field="due_at")
    remind = parse_when(remind_at, "remind_at")
    before = _minutes(remind_before, "remind_before")
    if remind is None and before is not None:
        remind = due - timedelta(minutes=before)
    owner_user = _resolve_owner(owner if owner is not None else actor)
    customer_obj = _resolve_customer(actor, customer)
    if customer_obj is not None:
        customer_require_writable(customer_obj)
    _check_owner_sees_customer(owner_user, customer_obj)
    task = Task(title=(title or "").strip(), notes=(notes or "").strip(), due_at=due, remind_at=remind,
                owner=owner_user, created_by=actor if getattr(actor, "is_authenticated", False) else None,
                customer=customer_obj, priority=priority, recurrence_days=recurrence_days or None, source=source,
                rule=rule, source_event=source_event, source_order_no=source_order_no,
                idempotency_key=idempotency_key or None)
    _set_related(task, related)
    _validate(task)
    task.save()
    audit_record(actor=actor, action="task.create", obj=task, via=via,
                 changes={k: [None, v] for k, v in _snapshot(task).items() if v not in ("", None)})
    _timeline(task, "task.created", actor)
    return task


@transaction.atomic
def task_update(*, actor, task: Task, data: dict[str, Any], via: str = "web") -> Task:
    """Change some fields of a task (a new due time keeps the reminder's lead unless a reminder is given)."""
    unknown = set(data) - set(TASK_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(_("Unknown field: %(field)s") % {"field": field}, code=WorkCode.UNKNOWN_FIELD, field=field)
    task = _lock_visible(actor, task)
    before = _snapshot(task)
    old_due, old_remind = task.due_at, task.remind_at
    lead = old_due - old_remind if old_remind is not None else None
    if "title" in data:
        task.title = (data["title"] or "").strip()
    if "notes" in data:
        task.notes = (data["notes"] or "").strip()
    if "priority" in data:
        task.priority = data["priority"]
    if "recurrence_days" in data:
        task.recurrence_days = data["recurrence_days"] or None
    if "due_at" in data:
        due = parse_when(data["due_at"], "due_at")
        if due is None:
            raise DomainError(_("A task needs a due time."), code=WorkCode.REQUIRED, field="due_at")
        task.due_at = due
    if "remind_at" in data:
        task.remind_at = parse_when(data["remind_at"], "remind_at")
    elif "remind_before" in data:
        minutes = _minutes(data["remind_before"], "remind_before")
        task.remind_at = task.due_at - timedelta(minutes=minutes) if minutes is not None else None
    elif lead is not None:
        task.remind_at = task.due_at - lead
    if "owner" in data:
        task.owner = _resolve_owner(data["owner"])
    if "customer" in data:
        task.customer = _resolve_customer(actor, data["customer"])
    if "related" in data:
        _set_related(task, data["related"])
    _check_owner_sees_customer(task.owner, task.customer)
    _validate(task)
    if task.remind_at != old_remind:
        # A new reminder time is a new reminder: sent again, with fresh attempts.
        task.reminded_at, task.remind_attempts, task.remind_retry_at, task.remind_error = None, 0, None, ""
    after = _snapshot(task)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        task.save()
        audit_record(actor=actor, action="task.update", obj=task, via=via, changes=changes)
    return task


def _next_occurrence(task: Task, now: datetime) -> Task | None:
    """Open the next task of a recurring one, N days after its completion at the same time of day."""
    if not task.recurrence_days or Task.objects.filter(previous=task).exists():
        return None
    local_due = timezone.localtime(task.due_at)
    day = timezone.localdate(now) + timedelta(days=task.recurrence_days)
    due = timezone.make_aware(datetime.combine(day, local_due.time().replace(tzinfo=None)))
    remind = due - (task.due_at - task.remind_at) if task.remind_at is not None else None
    following = Task(title=task.title, notes=task.notes, due_at=due, remind_at=remind, owner=task.owner,
                     created_by=task.created_by, customer=task.customer, related_type=task.related_type,
                     related_id=task.related_id, priority=task.priority, recurrence_days=task.recurrence_days,
                     source=task.source, rule=task.rule, previous=task)
    following.save()
    audit_record(actor=None, action="task.create", obj=following, via="recurrence",
                 changes={"previous": [None, task.public_id], "due_at": [None, due.isoformat()]})
    return following


@transaction.atomic
def task_complete(*, actor, task: Task, via: str = "web", now: datetime | None = None) -> Task:
    """Mark a task done (done twice is done once); a recurring task opens its next occurrence."""
    task = _lock_visible(actor, task)
    if task.status == TaskStatus.DONE:
        return task
    if task.status == TaskStatus.CANCELLED:
        raise DomainError(_("This task was cancelled; reopen it first."), code=WorkCode.NOT_OPEN, field="status")
    now = now or timezone.now()
    task.status, task.done_at = TaskStatus.DONE, now
    task.save(update_fields=["status", "done_at", "updated_at"])
    following = _next_occurrence(task, now)
    audit_record(actor=actor, action="task.complete", obj=task, via=via,
                 changes={"status": [TaskStatus.OPEN, TaskStatus.DONE],
                          **({"next": [None, following.public_id]} if following else {})})
    _timeline(task, "task.done", actor, next=following.public_id if following else None,
              next_due=following.due_at.isoformat() if following else None)
    task.next_occurrence = following
    return task


@transaction.atomic(durable=True)
def task_reopen(*, actor, task: Task, via: str = "web") -> Task:
    """Open a done or cancelled task again."""
    task = _lock_visible(actor, task)
    if task.status == TaskStatus.OPEN:
        return task
    before = task.status
    task.status, task.done_at = TaskStatus.OPEN, None
    task.save(update_fields=["status", "done_at", "updated_at"])
    audit_record(actor=actor, action="task.reopen", obj=task, via=via, changes={"status": [before, task.status]})
    _timeline(task, "task.reopened", actor)
    return task


@transaction.atomic(durable=True)
def task_cancel(*, actor, task: Task, via: str = "web") -> Task:
    """Cancel an open task (no reminder goes out for it any more)."""
    task = _lock_visible(actor, task)
    if task.status == TaskStatus.CANCELLED:
        return task
    if task.status == TaskStatus.DONE:
        raise DomainError(_("This task is already done."), code=WorkCode.NOT_OPEN, field="status")
    task.status = TaskStatus.CANCELLED
    task.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="task.cancel", obj=task, via=via,
                 changes={"status": [TaskStatus.OPEN, TaskStatus.CANCELLED]})
    _timeline(task, "task.cancelled", actor)
    return task


@transaction.atomic(durable=True)
def task_snooze(*, actor, task: Task, until: datetime | str, via: str = "web",
                now: datetime | None = None) -> Task:
    """Put an open task off until a later time; its reminder moves along and goes out again."""
    task = _lock_visible(actor, task)
    if task.status != TaskStatus.OPEN:
        raise DomainError(_("Only an open task can be put off."), code=WorkCode.NOT_OPEN, field="status")
    new_due = parse_when(until, "until")
    if new_due is None or new_due <= (now or timezone.now()):
        raise DomainError(_("Put the task off to a time in the future."), code=WorkCode.NOT_IN_FUTURE, field="until")
    before = {"due_at": task.due_at.isoformat(), "remind_at": task.remind_at.isoformat() if task.remind_at else None}
    if task.remind_at is not None:
        task.remind_at = new_due - (task.due_at - task.remind_at)
    task.due_at = new_due
    task.reminded_at, task.remind_attempts, task.remind_retry_at, task.remind_error = None, 0, None, ""
    task.save(update_fields=["due_at", "remind_at", "reminded_at", "remind_attempts", "remind_retry_at",
                             "remind_error", "updated_at"])
    after = {"due_at": task.due_at.isoformat(), "remind_at": task.remind_at.isoformat() if task.remind_at else None}
    audit_record(actor=actor, action="task.snooze", obj=task, via=via,
                 changes={k: [before[k], after[k]] for k in after if before[k] != after[k]})
    return task


# Follow-up rules (回访)


def _require_manager(actor) -> None:
    if actor is None or actor.effective_role != Role.MANAGER:
        raise PermissionDenied(_("Only managers may set up follow-up rules."), code=WorkCode.FORBIDDEN)


def _clean_rule(rule: FollowUpRule) -> None:
    rule.name = (rule.name or "").strip()
    rule.title_template = (rule.title_template or "").strip()
    rule.store = (rule.store or "").strip()
    if not rule.name:
        raise DomainError(_("A rule needs a name."), code=WorkCode.REQUIRED, field="name")
    if rule.trigger not in FollowUpTrigger.values:
        raise DomainError(_("Unknown trigger."), code=WorkCode.UNKNOWN_TRIGGER, field="trigger")
    try:
        names = [name for _text, name, _spec, _conv in string.Formatter().parse(rule.title_template) if name is not None]
    except ValueError:
        names = None
    if not rule.title_template or names is None or any(n not in TITLE_PLACEHOLDERS for n in names):
        raise DomainError(_("The title may use {customer}, {order_no}, {amount} and {store} only."),
                          code=WorkCode.INVALID_TEMPLATE, field="title_template")
    if rule.assignee_id is not None and not has_capability(rule.assignee, "task.change"):
        raise DomainError(_("%(user)s may not work on tasks.") % {"user": rule.assignee}, code=WorkCode.INVALID_OWNER,
                          field="assignee")
    if rule.min_amount is not None:
        try:
            rule.min_amount = Decimal(str(rule.min_amount))
        except InvalidOperation:
            raise DomainError(_("Give the amount as a number."), code=WorkCode.NOT_A_NUMBER, field="min_amount")
    full_clean_or_raise(rule, exclude=["assignee", "created_by"], validate_unique=False)


def _rule_snapshot(rule: FollowUpRule) -> dict[str, Any]:
    out = {}
    for name in RULE_FIELDS:
        value = getattr(rule, "assignee_id" if name == "assignee" else name)
        out[name] = value if isinstance(value, (str, int, bool, type(None))) else str(value)
    return out


def _rule_assign(rule: FollowUpRule, data: dict[str, Any]) -> None:
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(_("Unknown field: %(field)s") % {"field": field}, code=WorkCode.UNKNOWN_FIELD, field=field)
    for name, value in data.items():
        if name == "assignee":
            try:
                rule.assignee = _resolve_owner(value) if value not in (None, "") else None
            except DomainError as exc:
                exc.field = "assignee"
                raise
        else:
            setattr(rule, name, value)


@transaction.atomic(durable=True)
def follow_up_rule_create(*, actor, data: dict[str, Any]) -> FollowUpRule:
    """Create a follow-up rule (managers)."""
    _require_manager(actor)
    rule = FollowUpRule(created_by=actor)
    _rule_assign(rule, data)
    _clean_rule(rule)
    rule.save()
    audit_record(actor=actor, action="followup_rule.create", obj=rule,
                 changes={k: [None, v] for k, v in _rule_snapshot(rule).items() if v not in ("", None)})
    return rule


@transaction.atomic(durable=True)
def follow_up_rule_update(*, actor, rule: FollowUpRule, data: dict[str, Any]) -> FollowUpRule:
    """Change a follow-up rule (managers); tasks it already opened stay as they are."""
    _require_manager(actor)
    rule = FollowUpRule.objects.select_for_update().get(pk=rule.pk)
    before = _rule_snapshot(rule)
    _rule_assign(rule, data)
    _clean_rule(rule)
    after = _rule_snapshot(rule)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        rule.save()
        audit_record(actor=actor, action="followup_rule.update", obj=rule, changes=changes)
    return rule

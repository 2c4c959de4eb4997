"""How tasks react to events: the follow-up rules (回访) open a task after a purchase, once per rule and purchase;
a contract about to end (`contract.expiring`) gives its owner a to-do to renew it."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.customers.dedupe import on_merge
from fidelis.events.models import Event
from fidelis.events.registry import on_event
from fidelis.pipeline.models import Contract, ContractStatus
from fidelis.work.models import FollowUpRule, FollowUpTrigger, Task, TaskSource
from fidelis.work.services import task_create


def _amount(event: Event) -> Decimal | None:
    try:
        return Decimal(str(event.payload.get("amount")))
    except (InvalidOperation, TypeError, ValueError):
        return None


def rule_applies(rule: FollowUpRule, event: Event) -> bool:
    """Return whether the event meets the rule's store and minimum amount."""
    if rule.store and rule.store not in (str(event.payload.get("store", "")), event.touchpoint):
        return False
    if rule.min_amount is not None:
        amount = _amount(event)
        if amount is None or not amount.is_finite() or amount < rule.min_amount:
            return False
    return True


def rule_title(rule: FollowUpRule, event: Event) -> str:
    """Return the task title of the rule's template filled in for this event."""
    customer = event.customer
    values = {"customer": customer.name, "order_no": str(event.payload.get("order_no", "")),
              "amount": str(event.payload.get("amount", "")),
              "store": str(event.payload.get("store", "") or event.touchpoint)}
    try:
        title = rule.title_template.format_map(values)
    except (KeyError, IndexError, ValueError):
        title = f"{rule.name} {customer.name}"
    return title.strip()[:200] or rule.name


def order_no_of(event: Event) -> str:
    """Return the order number the event is about ("" when it names none, or one too long to keep)."""
    order_no = str(event.payload.get("order_no") or "").strip()
    return order_no if len(order_no) <= Task._meta.get_field("source_order_no").max_length else ""


def rule_due(rule: FollowUpRule, event: Event) -> datetime:
    """Return when the rule's task is due: `delay_days` after the event's day, at the rule's time of day."""
    day = timezone.localtime(event.occurred_at).date() + timedelta(days=rule.delay_days)
    return timezone.make_aware(datetime.combine(day, rule.due_time))


def rule_assignee(rule: FollowUpRule, event: Event):
    """Return who gets the task: the customer's owner, else the rule's user (None: nobody to give it to)."""
    owner = event.customer.owner
    if owner is not None and owner.is_active and has_capability(owner, "task.change"):
        return owner
    assignee = rule.assignee
    if assignee is not None and assignee.is_active and has_capability(assignee, "task.change"):
        return assignee
    return None


@on_event(*FollowUpTrigger.values, batch=True)
def follow_up_tasks_for(event_ids: list[int]) -> list[Task]:
    """Open the follow-up tasks of a batch of events; one query tells when no rule is active."""
    triggers = set(FollowUpRule.objects.filter(is_active=True).values_list("trigger", flat=True))
    if not triggers:
        return []
    ids = Event.objects.filter(pk__in=event_ids, type__in=triggers).order_by("pk").values_list("pk", flat=True)
    return [task for event_id in ids for task in follow_up_tasks_create(event_id)]


def follow_up_tasks_create(event_id: int) -> list[Task]:
    """Open the follow-up task of every active rule the event meets; safe to run twice, and for the same order
    recorded again under another idempotency key (one task per rule and purchase: event, or customer and order)."""
    event = Event.objects.select_related("customer__owner").filter(pk=event_id).first()
    if event is None or event.customer.erased_at or event.customer.merged_into_id:
        return []
    order_no = order_no_of(event)
    opened = Q(source_event=event)
    if order_no:
        opened |= Q(customer=event.customer, source_order_no=order_no)
    created = []
    rules = FollowUpRule.objects.filter(is_active=True, trigger=event.type).select_related("assignee")
    for rule in rules.order_by("pk"):
        if not rule_applies(rule, event) or Task.objects.filter(opened, rule=rule).exists():
            continue
        owner = rule_assignee(rule, event)
        if owner is None:
            continue
        try:
            # A savepoint: a second run that lost the race hits a (rule, event) or (rule, customer, order)
            # constraint and moves on — INSERT … ON CONFLICT DO NOTHING, with the audit row and timeline entry.
            with transaction.atomic():
                created.append(task_create(
                    actor=None, title=rule_title(rule, event), due_at=rule_due(rule, event), owner=owner,
                    customer=event.customer, priority=rule.priority, remind_before=rule.remind_before,
                    source=TaskSource.FOLLOW_UP, rule=rule, source_event=event, source_order_no=order_no,
                    via="rule", notes=event.line))
        except IntegrityError:
            continue
    return created


def contract_renewal_due(end_date: date, announced_at: datetime) -> datetime:
    """Return when a contract's renewal to-do is due: a week before the end (not before the announcement's day),
    at 10:00, and at least an hour after the announcement."""
    day = max(timezone.localtime(announced_at).date(), end_date - timedelta(days=7))
    return max(timezone.make_aware(datetime.combine(day, time(10, 0))), announced_at + timedelta(hours=1))


@on_event("contract.expiring")
def contract_renewal_task(event_id: int) -> Task | None:
    """Give the owner of a contract about to end a to-do to renew it; safe to run twice (one task per contract end)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return None
    contract = (Contract.objects.select_related("customer", "owner")
                .filter(public_id=str(event.payload.get("contract", ""))).first())
    if contract is None or contract.status != ContractStatus.ACTIVE:
        return None
    key = f"sales:contract:{contract.public_id}:expiry:{contract.end_date}"
    if Task.objects.filter(idempotency_key=key).exists():
        return None
    customer = contract.customer if not contract.customer.merged_into_id else None
    values = {"number": contract.number, "date": contract.end_date.isoformat()}
    try:
        # A savepoint: a second run that lost the race hits the idempotency key's constraint and moves on.
        with transaction.atomic():
            return task_create(
                actor=None, owner=contract.owner, customer=customer, related=contract,
                due_at=contract_renewal_due(contract.end_date, event.occurred_at), remind_at=timezone.now(),
                via="system", title=_("Contract %(number)s ends on %(date)s: renew it?") % values,
                notes=_("Contract %(number)s of %(customer)s, ¥%(amount)s, ends on %(date)s.")
                % {**values, "customer": contract.customer.name, "amount": contract.amount},
                idempotency_key=key)
    except IntegrityError:
        return None


@on_merge
def move_tasks(*, actor, keep, absorb) -> dict:
    """Move the absorbed record's tasks to the kept one."""
    # A purchase that opened a follow-up on both records keeps both tasks; the moved one no longer claims the
    # order (one task per rule, customer and order).
    kept = Task.objects.filter(customer=keep, rule=OuterRef("rule"), source_order_no=OuterRef("source_order_no"))
    Task.objects.filter(customer=absorb, rule__isnull=False).exclude(source_order_no="").filter(
        Exists(kept)).update(source_order_no="")
    return {"tasks": Task.objects.filter(customer=absorb).update(customer=keep, updated_at=timezone.now())}

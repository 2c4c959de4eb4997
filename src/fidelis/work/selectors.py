"""Reads on tasks; each applies the ownership rule.

A user sees the tasks they own or created; a sales rep only those whose customer they may see (their own
customers and unassigned ones); managers see everyone's. Anything else answers 404.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.models import Role, User
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import NotFound
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_visible_condition, customer_visible_qs
from fidelis.work.errors import WorkCode
from fidelis.work.models import FollowUpRule, Task, TaskStatus

UPCOMING_DAYS = 7
MY_DAY_LIMIT = 60
DUE_FILTERS = ("overdue", "today", "upcoming")


class CustomerRef(NamedTuple):
    public_id: str
    name: str


class TaskLine(NamedTuple):
    """An open task as "my day" lists it (work_ui renders it like a Task): read as plain tuples, the page's sixty
    tasks and their customers cost a third of what building model instances did."""

    public_id: str
    title: str
    status: str
    priority: int
    due_at: datetime
    remind_at: datetime | None
    recurrence_days: int | None
    customer_id: int | None
    customer: CustomerRef | None


def sees_all_tasks(user) -> bool:
    """Return whether the user sees (and may reassign) every task: managers."""
    return getattr(user, "is_authenticated", False) and user.effective_role == Role.MANAGER


def task_visible_qs(user) -> QuerySet[Task]:
    """Return the tasks the user may see."""
    if not has_capability(user, "task.view"):
        return Task.objects.none()
    qs = Task.objects.all()
    if sees_all_tasks(user):
        return qs
    # The customer's rule is the archive's own (customer_visible_condition), read on the joined customer: a task
    # about a customer given to another rep leaves with the customer.
    return qs.filter(Q(owner=user) | Q(created_by=user),
                     Q(customer__isnull=True) | customer_visible_condition(user, through="customer__"))


def task_get_for_user(user, public_id: str, *, for_update: bool = False) -> Task:
    """Return the visible task with this public id, or raise NotFound (never reveal another's task)."""
    qs = task_visible_qs(user).select_related("owner", "created_by", "customer", "rule", "related_type")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    found = list(qs.filter(public_id=public_id).order_by()[:1])
    if not found:
        raise NotFound(_("No such task."), code=WorkCode.NOT_FOUND)
    return found[0]


def day_bounds(now: datetime | None = None) -> tuple[datetime, datetime, datetime]:
    """Return now, the start of tomorrow and the end of the upcoming window, in the current time zone."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    tomorrow = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now, tomorrow, tomorrow + timedelta(days=UPCOMING_DAYS)


def due_filter(qs: QuerySet[Task], due: str, now: datetime | None = None) -> QuerySet[Task]:
    """Narrow open tasks to overdue, due later today, or upcoming (the next seven days)."""
    now, tomorrow, horizon = day_bounds(now)
    if due == "overdue":
        return qs.filter(status=TaskStatus.OPEN, due_at__lt=now)
    if due == "today":
        return qs.filter(status=TaskStatus.OPEN, due_at__gte=now, due_at__lt=tomorrow)
    if due == "upcoming":
        return qs.filter(status=TaskStatus.OPEN, due_at__gte=tomorrow, due_at__lt=horizon)
    return qs


def task_list_filtered(user, *, scope: str = "mine", status: str = "open", due: str = "", owner: str = "",
                       customer: str = "", now: datetime | None = None) -> QuerySet[Task]:
    """Return the visible tasks matching the list filters, soonest first.

    scope "mine": owned by the user; "team" (managers): everyone's, optionally one owner's (username);
    "created": those the user created for others. customer is a customer's public id.
    """
    qs = task_visible_qs(user).select_related("owner", "customer")
    if scope == "team" and sees_all_tasks(user):
        if owner:
            qs = qs.filter(owner__username=owner)
    elif scope == "created":
        qs = qs.filter(created_by=user)
    else:
        qs = qs.filter(owner=user)
    if status in TaskStatus.values:
        qs = qs.filter(status=status)
    if due in DUE_FILTERS:
        qs = due_filter(qs, due, now)
    if customer:
        qs = qs.filter(customer__public_id=customer)
    if status == TaskStatus.OPEN or due:
        return qs.order_by("due_at", "id")
    return qs.order_by("-due_at", "-id")


@dataclass
class MyDay:
    """The user's open tasks for the home page, grouped."""

    overdue: list[TaskLine] = field(default_factory=list)
    today: list[TaskLine] = field(default_factory=list)
    upcoming: list[TaskLine] = field(default_factory=list)
    more: bool = False

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming)


def my_day_qs(user, *, horizon: datetime, limit: int = MY_DAY_LIMIT) -> QuerySet:
    """Return the user's visible open tasks due before `horizon`, soonest first, as the columns "my day" shows
    (`TaskLine` without its customer pair): `limit` of them and one more, which tells that there are more."""
    return (task_visible_qs(user).filter(owner=user, status=TaskStatus.OPEN, due_at__lt=horizon)
            .order_by("due_at", "id")
            .values_list("public_id", "title", "status", "priority", "due_at", "remind_at", "recurrence_days",
                         "customer", "customer__public_id", "customer__name")[:limit + 1])


class _Statement(NamedTuple):
    sql: str
    params: list
    horizon_at: int  # the position of the horizon among the parameters


# The horizon the statement of `my_day_qs` is compiled with; each call puts its own in its place.
_HORIZON_MARK = datetime(2000, 1, 1, 0, 0, 0, 424242, tzinfo=UTC)
_STATEMENTS: dict[tuple, _Statement] = {}
_STATEMENTS_MAX = 4096


def _my_day_statement(user, limit: int) -> _Statement:
    """Return the SQL of `my_day_qs` for this user, compiled from it once per user, role and limit.

    The statement and its parameters depend on the user only through the id and what `task_visible_qs` and
    `customer_visible_condition` decide from the role and the active flag: those are the key.
    """
    key = (connection.alias, user.pk, user.effective_role, user.is_active, limit)
    statement = _STATEMENTS.get(key)
    if statement is None:
        sql, params = my_day_qs(user, horizon=_HORIZON_MARK, limit=limit).query.sql_with_params()
        mark = connection.ops.adapt_datetimefield_value(_HORIZON_MARK)
        found = [index for index, value in enumerate(params) if value == mark]
        if len(found) != 1:
            raise RuntimeError("my_day_qs must compare the due time with the horizon exactly once")
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        statement = _STATEMENTS[key] = _Statement(sql, list(params), found[0])
    return statement


def _aware(value):
    # SQLite gives the stored UTC time without its zone (or as text): as the ORM's converter does.
    return connection.ops.convert_datetimefield_value(value, None, connection)


def _as_is(value):
    return value


def my_day(user, *, now: datetime | None = None, limit: int = MY_DAY_LIMIT) -> MyDay:
    """Return the user's open tasks due up to a week ahead, as overdue / today / upcoming, in one query."""
    now, tomorrow, horizon = day_bounds(now)
    # The rows of `my_day_qs`, with its own statement (the visibility rule included) compiled once per user and
    # run on the cursor: building and compiling the queryset took several times what the database needs to answer
    # it, and reading model instances three times what these tuples cost.
    statement = _my_day_statement(user, limit)
    params = list(statement.params)
    params[statement.horizon_at] = connection.ops.adapt_datetimefield_value(horizon)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        found = cursor.fetchall()
    aware = _aware if connection.vendor == "sqlite" else _as_is
    rows = [TaskLine(public_id, title, status, priority, aware(due_at), aware(remind_at), recurrence_days,
                     customer_id, CustomerRef(customer_public_id, name) if customer_id else None)
            for (public_id, title, status, priority, due_at, remind_at, recurrence_days, customer_id,
                 customer_public_id, name) in found]
    day = MyDay(more=len(rows) > limit)
    for task in rows[:limit]:
        if task.due_at < now:
            day.overdue.append(task)
        elif task.due_at < tomorrow:
            day.today.append(task)
        else:
            day.upcoming.append(task)
    return day


def customer_tasks(user, customer: Customer, *, limit: int = 10) -> list[Task]:
    """Return the visible open tasks about a customer, soonest first."""
    return list(task_visible_qs(user).filter(customer=customer, status=TaskStatus.OPEN)
                .select_related("owner").order_by("due_at", "id")[:limit])


def assignable_users() -> QuerySet[User]:
    """Return the users a task may be given to: active staff whose role may work on tasks."""
    return (User.objects.filter(is_active=True).filter(~Q(role=Role.READONLY) | Q(is_superuser=True))
            .order_by("display_name", "username"))


def customer_options(user, q: str, *, limit: int = 20) -> list[Customer]:
    """Return the visible customers matching the picker's text (the archive's search)."""
    from fidelis.customers.selectors import customer_search

    return customer_search(user, q, limit=limit)


def follow_up_rules() -> QuerySet[FollowUpRule]:
    return FollowUpRule.objects.select_related("assignee")


def follow_up_rule_get(public_id: str) -> FollowUpRule:
    rule = FollowUpRule.objects.select_related("assignee").filter(public_id=public_id).first()
    if rule is None:
        raise NotFound(_("No such follow-up rule."), code=WorkCode.NOT_FOUND)
    return rule


def visible_customer_or_404(user, public_id: str) -> Customer:
    found = list(customer_visible_qs(user).filter(public_id=public_id).order_by()[:1])
    if not found:
        raise NotFound(_("No such customer."), code=WorkCode.NOT_FOUND, field="customer")
    return found[0]

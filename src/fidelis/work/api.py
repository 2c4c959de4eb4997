"""Tasks over HTTP (scopes work:read / work:write): the caller's tasks, create (idempotent on the
Idempotency-Key header), read, change, complete. The ownership rules of the UI apply: another user's task
answers 404."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Query, Router, Schema, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import Conflict
from fidelis.core.idempotency import KEY_HEADER, header_idempotency_key
from fidelis.core.types import Int, Text
from fidelis.work import selectors, services
from fidelis.work.errors import WorkCode
from fidelis.work.models import Task, TaskStatus
from fidelis.work.schemas import TaskIn, TaskOut, TaskPatch

router = Router(tags=["work"])


def task_out(task: Task, *, created: bool | None = None, following: Task | None = None) -> dict:
    customer = task.customer
    following = following or getattr(task, "next_occurrence", None)
    return {"id": task.public_id, "title": task.title, "notes": task.notes, "status": task.status,
            "priority": task.priority, "due_at": task.due_at, "remind_at": task.remind_at,
            "reminded_at": task.reminded_at, "done_at": task.done_at, "owner": task.owner.username,
            "created_by": task.created_by.username if task.created_by else None,
            "customer": customer.public_id if customer else None,
            "customer_number": customer.number if customer else None,
            "customer_name": customer.name if customer else None, "recurrence_days": task.recurrence_days,
            "source": task.source, "rule": task.rule.public_id if task.rule_id else None,
            "next": following.public_id if following else None, "created": created,
            "url": settings.FIDELIS_SITE_URL + task.get_absolute_url()}


def _reload(user, task: Task) -> Task:
    return selectors.task_get_for_user(user, task.public_id)


class TaskQuery(Schema):
    scope: str = "mine"
    status: str = "open"
    due: str | None = None
    owner: str | None = None
    customer: str | None = None
    limit: Int = 50
    offset: Int = 0


@router.get("/tasks", response=list[TaskOut],
            summary=gettext_lazy("The caller's tasks (managers: scope=team)"),
            description=gettext_lazy("scope: mine (default), created (given to others), team (managers: "
                                     "everyone's, owner= one user's); status: open (default), done, "
                                     "cancelled or all; due: overdue, today or upcoming (the next 7 days); "
                                     "customer: a public id."))
@requires("work:read", "task.view")
def task_list(request, filters: Query[TaskQuery]):
    qs = selectors.task_list_filtered(request.auth, scope=filters.scope,
                                      status="" if filters.status == "all" else filters.status,
                                      due=filters.due or "", owner=filters.owner or "",
                                      customer=filters.customer or "")
    qs = qs.select_related("created_by", "rule")
    offset, limit = max(filters.offset, 0), max(1, min(filters.limit, 200))
    return [task_out(t) for t in qs[offset:offset + limit]]


@router.post("/tasks", response={200: TaskOut, 201: TaskOut}, summary=gettext_lazy("Create a task"),
             description=gettext_lazy("The same Idempotency-Key again gives the first answer again "
                                      "(Idempotent-Replayed: true); the key sent with another request is "
                                      "refused (409)."))
@requires("work:write", "task.change")
def task_create(request, payload: TaskIn, idempotency_key: str | None = KEY_HEADER):
    key = header_idempotency_key(idempotency_key)

    def existing() -> Task | None:
        task = Task.objects.filter(idempotency_key=key).first() if key else None
        if task is not None and (task.created_by_id != request.auth.pk or task.title != payload.title.strip()):
            raise Conflict(_("This idempotency key was already used for another task."),
                           code=WorkCode.IDEMPOTENCY_CONFLICT, field="idempotency_key")
        return task

    found = existing()
    if found is None:
        try:
            with transaction.atomic():
                task = services.task_create(actor=request.auth, via="api", idempotency_key=key,
                                            **payload.model_dump())
            return Status(201, task_out(_reload(request.auth, task), created=True))
        except IntegrityError:
            # A concurrent request with the same key won the race: answer with its task.
            found = existing()
            if found is None:
                raise
    return Status(200, task_out(_reload(request.auth, found), created=False))


@router.get("/tasks/{public_id}", response=TaskOut, summary=gettext_lazy("A task"))
@requires("work:read", "task.view")
def task_detail(request, public_id: Text):
    return task_out(selectors.task_get_for_user(request.auth, public_id))


@router.patch("/tasks/{public_id}", response=TaskOut, summary=gettext_lazy("Change a task"),
              description=gettext_lazy("Only the fields sent change; a new due_at keeps the reminder's "
                                       "lead unless remind_at or remind_before is sent (remind_before "
                                       "null: no reminder)."))
@requires("work:write", "task.change")
def task_update(request, public_id: Text, payload: TaskPatch):
    task = selectors.task_get_for_user(request.auth, public_id)
    task = services.task_update(actor=request.auth, task=task, data=payload.model_dump(exclude_unset=True), via="api")
    return task_out(_reload(request.auth, task))


@router.post("/tasks/{public_id}/complete", response=TaskOut, summary=gettext_lazy("Mark a task done"),
             description=gettext_lazy("Done twice is done once. A recurring task answers its next "
                                      "occurrence in `next`."))
@requires("work:write", "task.change")
def task_complete(request, public_id: Text):
    task = selectors.task_get_for_user(request.auth, public_id)
    done = services.task_complete(actor=request.auth, task=task, via="api")
    following = Task.objects.filter(previous=done).first() if done.status == TaskStatus.DONE else None
    return task_out(_reload(request.auth, done), following=following)

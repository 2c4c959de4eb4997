"""Task pages: the list with filters, create / edit, the detail page, complete / reopen / cancel / snooze (htmx:
the row is answered in place) and the customer picker. The tasks card of the customer 360° page is in
`fidelis.work.panels`."""


from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, NotFound, form_error
from fidelis.customers.selectors import customer_get_for_user
from fidelis.work import selectors, services
from fidelis.work.forms import InteractionForm, SnoozeForm, TaskForm
from fidelis.work.models import TaskStatus

PAGE_SIZE = 50
FILTERS = ("scope", "status", "due", "owner", "customer")
# Which partial answers an htmx action: the <li> of "my day" and the customer panel, or the <tr> of the list.
ROW_TEMPLATES = {"item": "work/_task_item.html", "row": "work/_task_row.html"}


def _next_url(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def _form_error(form, exc: DomainError) -> None:
    field = {"due_at": "due_date", "remind_at": "remind_before"}.get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, str(exc.message))


@require_capability("task.view")
def task_list(request):
    """List the user's tasks (or, for managers, the team's) with filters."""
    filters = {k: request.GET.get(k, "").strip() for k in FILTERS}
    filters["scope"] = filters["scope"] if filters["scope"] in ("mine", "team", "created") else "mine"
    if "status" not in request.GET:
        filters["status"] = TaskStatus.OPEN
    can_team = selectors.sees_all_tasks(request.user)
    qs = selectors.task_list_filtered(request.user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    customer = None
    if filters["customer"]:
        try:
            customer = selectors.visible_customer_or_404(request.user, filters["customer"])
        except NotFound:
            customer = None
    return render(request, "work/task_list.html", {
        "page": page, "tasks": page.object_list, "filters": filters, "can_team": can_team,
        "statuses": TaskStatus.choices,
        "dues": [("overdue", _("Overdue")), ("today", _("Today")), ("upcoming", _("Next 7 days"))],
        "owners": selectors.assignable_users() if can_team else [], "filter_customer": customer,
        "can_change": has_capability(request.user, "task.change"),
    })


@require_capability("task.change")
def task_create(request):
    """Create a task (for a customer when ?customer= names one the user sees); back to ?next afterwards."""
    customer = None
    public_id = request.POST.get("customer") or request.GET.get("customer") or ""
    if public_id:
        try:
            customer = customer_get_for_user(request.user, public_id)
        except NotFound:
            customer = None
    initial = {"owner": request.user.pk, **TaskForm.initial_due()}
    form = TaskForm(request.POST or None, customer=customer, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.task_create(actor=request.user, **form.service_data())
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Task “%(title)s” added.") % {"title": task.title})
            return redirect(_next_url(request, task.get_absolute_url()))
    return render(request, "work/task_form.html", {"form": form, "creating": True, "customer": customer,
                                                   "next": _next_url(request, "")})


@require_capability("task.change")
def task_edit(request, public_id: str):
    """Change a task."""
    task = selectors.task_get_for_user(request.user, public_id)
    form = TaskForm(request.POST or None, task=task)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_update(actor=request.user, task=task, data=form.service_data())
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect(_next_url(request, task.get_absolute_url()))
    return render(request, "work/task_form.html", {"form": form, "task": task, "customer": task.customer,
                                                   "next": _next_url(request, "")})


@require_capability("task.view")
def task_detail(request, public_id: str):
    """Show a task: what, when, for whom, the linked object, its history of reminders; the actions."""
    task = selectors.task_get_for_user(request.user, public_id)
    following = getattr(task, "next_task", None) if task.recurrence_days else None
    return render(request, "work/task_detail.html", {
        "task": task, "related": task.related_object, "following": following,
        "can_change": has_capability(request.user, "task.change"), "snooze_choices": SnoozeForm.CHOICES,
    })


def _answer(request, task, error: str | None = None):
    """Answer an action: the task's row in place for htmx, else back to where the user came from."""
    template = ROW_TEMPLATES.get(request.POST.get("view", ""))
    if request.htmx and template:
        # 200 also for a refusal: htmx swaps only successful answers, and the row shows the error.
        return render(request, template, {"task": task, "task_error": error, "view": request.POST["view"],
                                          "can_change": True, "snooze_choices": SnoozeForm.CHOICES,
                                          "show_owner": request.POST.get("show_owner") == "1",
                                          "next": _next_url(request, "")})
    if error:
        messages.error(request, error)
    return redirect(_next_url(request, task.get_absolute_url()))


def _act(request, public_id: str, action, **kwargs):
    task = selectors.task_get_for_user(request.user, public_id)
    try:
        task = action(actor=request.user, task=task, **kwargs)
    except DomainError as exc:
        return _answer(request, task, str(exc.message))
    task = selectors.task_get_for_user(request.user, task.public_id)
    return _answer(request, task)


@require_POST
@require_capability("task.change")
def task_complete(request, public_id: str):
    return _act(request, public_id, services.task_complete)


@require_POST
@require_capability("task.change")
def task_reopen(request, public_id: str):
    return _act(request, public_id, services.task_reopen)


@require_POST
@require_capability("task.change")
def task_cancel(request, public_id: str):
    return _act(request, public_id, services.task_cancel)


@require_POST
@require_capability("task.change")
def task_snooze(request, public_id: str):
    task = selectors.task_get_for_user(request.user, public_id)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return _answer(request, task, _("Choose when to put the task off to."))
    return _act(request, public_id, services.task_snooze, until=form.until_for(task))


@require_capability("task.change")
def customer_options(request):
    """The customer picker of the task form: <option>s of the visible customers matching ?q (archive search)."""
    q = request.GET.get("customer_q", request.GET.get("q", "")).strip()
    customers = selectors.customer_options(request.user, q) if q else []
    return render(request, "work/_customer_options.html", {"customers": customers, "q": q})


@require_capability("task.change")
def interaction_log(request, public_id: str):
    """Log an interaction with a customer (the form comes on demand into the 360° page); after it is saved the
    page reloads, its timeline showing the new event."""
    customer = customer_get_for_user(request.user, public_id)
    form = InteractionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.interaction_log(actor=request.user, customer=customer, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Logged on the timeline."))
            response = redirect("customers:detail", public_id=customer.public_id)
            if request.htmx:
                response = HttpResponse(status=204, headers={"HX-Redirect": response["Location"]})
            return response
    return render(request, "work/_interaction_form.html", {"form": form, "customer": customer})


urlpatterns = [
    path("", task_list, name="tasks"),
    path("log/<str:public_id>/", interaction_log, name="interaction_log"),
    path("new/", task_create, name="task_create"),
    path("customer-options/", customer_options, name="customer_options"),
    path("<str:public_id>/", task_detail, name="task_detail"),
    path("<str:public_id>/edit/", task_edit, name="task_edit"),
    path("<str:public_id>/complete/", task_complete, name="task_complete"),
    path("<str:public_id>/reopen/", task_reopen, name="task_reopen"),
    path("<str:public_id>/cancel/", task_cancel, name="task_cancel"),
    path("<str:public_id>/snooze/", task_snooze, name="task_snooze"),
]

"""A task as "my day", the customer panel and the task list show it, rendered in Python.

"My day" shows up to 60 tasks, each with a status, a customer link and two small forms: as template includes that
was 80 % of the home page's time; the same markup built here costs about a fifth (measured with 40 tasks).
The templates work/_task_item.html, _task_status.html and _task_actions.html call these tags, so every page and
every htmx answer shows a task the same way.
"""

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_noop, ngettext

from fidelis.web.templatetags.fidelis_ui import esc

register = template.Library()
_ID = "0a1b2c3d4e5f6a7b"  # stands for a public id in a reversed URL



@lru_cache(maxsize=64)
def _url_parts(name: str, prefix: str, urlconf) -> tuple[str, str]:
    head, _sep, tail = reverse(name, args=[_ID], urlconf=urlconf).partition(_ID)
    return head, tail


def _url(name: str, public_id: str) -> str:
    """Return reverse(name, args=[public_id]) for a view taking one public id, reversed once per process."""
    head, tail = _url_parts(name, get_script_prefix(), get_urlconf())
    return f"{head}{public_id}{tail}"


@lru_cache(maxsize=16)
def _words(language: str) -> dict[str, str]:
    # The fixed words of a task, translated and escaped once per language instead of eight times per task.
    return {key: esc(gettext(text)) for key, text in (
        ("done", gettext_noop("Done")), ("cancelled", gettext_noop("Cancelled")), ("overdue", gettext_noop("Overdue")), ("high", gettext_noop("High priority")),
        ("mark_done", gettext_noop("Mark as done")), ("put_off_by", gettext_noop("Put off by")), ("put_off", gettext_noop("Put off")), ("reopen", gettext_noop("Reopen")),
        ("reminder", gettext_noop("reminder")))}


def status_badges(task) -> str:
    words = _words(get_language())
    if task.status == "done":
        html = f'<span class="badge ok task-state">{words["done"]}</span>'
    elif task.status == "cancelled":
        html = f'<span class="badge muted task-state">{words["cancelled"]}</span>'
    elif task.is_overdue:
        html = f'<span class="badge bad task-state">{words["overdue"]}</span>'
    else:
        html = ""
    if task.priority == 3:
        html += f' <span class="badge bad">{words["high"]}</span>'
    return html


@lru_cache(maxsize=32)
def _snooze_options(choices: tuple, language: str) -> str:
    return "".join(f'<option value="{esc(value)}">{esc(label)}</option>' for value, label in choices)


def actions(task, context, view: str) -> str:
    if not context.get("can_change"):
        return ""
    words = _words(get_language())
    next_url = context.get("next") or context["request"].get_full_path()
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(context.get("csrf_token", ""))}">'
    hidden = (f'<input type="hidden" name="view" value="{esc(view)}"><input type="hidden" name="next" '
              f'value="{esc(next_url)}">' + ('<input type="hidden" name="show_owner" value="1">'
                                             if context.get("show_owner") else ""))
    if task.status == "open":
        complete, snooze = _url("work:task_complete", task.public_id), _url("work:task_snooze", task.public_id)
        choices = tuple(context.get("snooze_choices") or ())
        forms = (
            f'\n  <form method="post" action="{complete}" hx-post="{complete}" hx-target="closest .task" '
            f'hx-swap="outerHTML">{csrf}\n    {hidden}\n    <button type="submit" class="small primary task-complete" '
            f'title="{words["mark_done"]}">✓ {words["done"]}</button></form>'
            f'\n  <form method="post" action="{snooze}" hx-post="{snooze}" hx-target="closest .task" '
            f'hx-swap="outerHTML" class="task-snooze">{csrf}\n    {hidden}\n    <select name="until" '
            f'aria-label="{words["put_off_by"]}">{_snooze_options(choices, get_language())}</select>\n'
            f'    <button type="submit" class="small">{words["put_off"]}</button></form>')
    else:
        reopen = _url("work:task_reopen", task.public_id)
        forms = (f'\n  <form method="post" action="{reopen}" hx-post="{reopen}" hx-target="closest .task" '
                 f'hx-swap="outerHTML">{csrf}\n    {hidden}\n    <button type="submit" class="small task-reopen">'
                 f'{words["reopen"]}</button></form>')
    return f'<div class="task-actions">{forms}\n</div>'


def _local(value, fmt: str) -> str:
    return timezone.localtime(value).strftime(fmt)


def item(task, context) -> str:
    meta = f'<span class="task-due num">{_local(task.due_at, "%m-%d %H:%M")}</span>'
    if task.customer_id:
        customer = task.customer
        meta += (f' · <a href="{_url("customers:detail", customer.public_id)}" class="task-customer">'
                 f'{esc(customer.name)}</a>')
    if context.get("show_owner"):
        meta += f" · {esc(task.owner)}"
    if task.remind_at and task.status == "open":
        reminder = _words(get_language())["reminder"]
        meta += f' · <span title="{reminder}">{reminder} {_local(task.remind_at, "%H:%M")}</span>'
    if task.recurrence_days:
        n = task.recurrence_days
        meta += " · " + esc(ngettext("every %(n)s day", "every %(n)s days", n) % {"n": n})
    error = context.get("task_error")
    return (
        f'<li class="task task-{esc(task.status)}{" overdue" if task.is_overdue else ""}" id="task-{task.public_id}" '
        f'data-task="{task.public_id}">\n  <div class="task-main">\n    <a class="task-title" '
        f'href="{_url("work:task_detail", task.public_id)}">{esc(task.title)}</a> {status_badges(task)}\n'
        f'    <div class="task-meta">{meta}</div>\n'
        + (f'    <div class="error" role="alert">{esc(error)}</div>\n' if error else "")
        + f'  </div>\n  {actions(task, context, "item")}\n</li>\n')


@register.simple_tag(takes_context=True)
def task_item(context, task) -> SafeString:
    """Return the task's <li>: title, status, due time, customer, owner (show_owner), reminder, recurrence and,
    with can_change, the done / put-off / reopen forms (context: can_change, next, show_owner, task_error,
    snooze_choices)."""
    return mark_safe(item(task, context))


@register.simple_tag(takes_context=True)
def task_items(context, tasks) -> SafeString:
    """Return the <li> of each task (see task_item)."""
    return mark_safe("".join(item(task, context) for task in tasks))


@register.simple_tag
def task_status(task) -> SafeString:
    """Return the badges of a done, cancelled, overdue or high-priority task."""
    return mark_safe(status_badges(task))


@register.simple_tag(takes_context=True)
def task_actions(context, task, view: str) -> SafeString:
    """Return the task's action forms for the view "item" or "row" (empty without can_change)."""
    return mark_safe(actions(task, context, view))

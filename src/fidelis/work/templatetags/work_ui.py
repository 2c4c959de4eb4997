"""A task as "my day", the customer panel and the task list show it, rendered in Python.

"My day" shows up to 60 tasks, each with a status, a customer link and two small forms: as template includes that
was 80 % of the home page's time; the same markup built here costs about a fifth (measured with 40 tasks).
What every task of a list shares (the language's words, the URLs' fixed parts, the CSRF and hidden inputs, the
put-off options, the time zone) is worked out once per list in `_Page`: per task it was half of the rendering.
The templates work/_task_item.html, _task_row.html and task_detail.html call these tags, so every page and every
htmx answer shows a task the same way.
"""

from functools import cached_property, lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_noop, ngettext, pgettext

from fidelis.web.templatetags.fidelis_ui import esc, url_around_id

register = template.Library()
_URLS = ("work:task_complete", "work:task_snooze", "work:task_reopen", "work:task_detail", "customers:detail")


def _url_parts(prefix: str, urlconf) -> dict[str, tuple[str, str]]:
    """Return, per URL name of a task's links, the text before and after the public id (reversed once)."""
    return {name: url_around_id(name, prefix, urlconf) for name in _URLS}


@lru_cache(maxsize=16)
def _words(language: str) -> dict[str, str]:
    # The fixed words of a task, translated and escaped once per language instead of eight times per task.
    # The button says what it does ("完成"); the badge what the task is ("已完成").
    return {"complete": esc(pgettext("task action", "Done"))} | {key: esc(gettext(text)) for key, text in (
        ("done", gettext_noop("Done")), ("cancelled", gettext_noop("Cancelled")),
        ("overdue", gettext_noop("Overdue")), ("high", gettext_noop("High priority")),
        ("mark_done", gettext_noop("Mark as done")), ("put_off_by", gettext_noop("Put off by")),
        ("put_off", gettext_noop("Put off")), ("reopen", gettext_noop("Reopen")), ("reminder", gettext_noop("reminder")))}


class _Page:
    """What the tasks of one list share, read from the template context once."""

    def __init__(self, context, view: str = "item") -> None:
        self.words = _words(get_language())
        self.urls = _url_parts(get_script_prefix(), get_urlconf())
        self.zone = timezone.get_current_timezone()
        self.now = timezone.now()
        self.show_owner = bool(context.get("show_owner"))
        self.error = context.get("task_error")
        self.can_change = bool(context.get("can_change"))
        self.context, self.view = context, view

    @cached_property
    def inputs(self) -> str:
        """The CSRF token, the view and the page to come back to, as hidden inputs of each form."""
        context = self.context
        next_url = context.get("next") or context["request"].get_full_path()
        csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(context.get("csrf_token", ""))}">'
        hidden = (f'<input type="hidden" name="view" value="{esc(self.view)}"><input type="hidden" name="next" '
                  f'value="{esc(next_url)}">' + ('<input type="hidden" name="show_owner" value="1">'
                                                 if self.show_owner else ""))
        return f"{csrf}\n    {hidden}"

    @cached_property
    def snooze_options(self) -> str:
        return "".join(f'<option value="{esc(value)}">{esc(label)}</option>'
                       for value, label in self.context.get("snooze_choices") or ())

    def url(self, name: str, public_id: str) -> str:
        head, tail = self.urls[name]
        return f"{head}{public_id}{tail}"

    def local(self, value, fmt: str) -> str:
        return value.astimezone(self.zone).strftime(fmt)

    def overdue(self, task) -> bool:
        return task.status == "open" and task.due_at < self.now

    def badges(self, task) -> str:
        words = self.words
        if task.status == "done":
            html = f'<span class="badge ok task-state">{words["done"]}</span>'
        elif task.status == "cancelled":
            html = f'<span class="badge muted task-state">{words["cancelled"]}</span>'
        elif self.overdue(task):
            html = f'<span class="badge bad task-state">{words["overdue"]}</span>'
        else:
            html = ""
        if task.priority == 3:
            html += f' <span class="badge bad">{words["high"]}</span>'
        return html

    def actions(self, task) -> str:
        if not self.can_change:
            return ""
        words, inputs = self.words, self.inputs
        if task.status == "open":
            complete, snooze = self.url("work:task_complete", task.public_id), self.url("work:task_snooze",
                                                                                         task.public_id)
            forms = (
                f'\n  <form method="post" action="{complete}" hx-post="{complete}" hx-target="closest .task" '
                f'hx-swap="outerHTML">{inputs}\n    <button type="submit" class="small primary task-complete" '
                f'title="{words["mark_done"]}">✓ {words["complete"]}</button></form>'
                f'\n  <form method="post" action="{snooze}" hx-post="{snooze}" hx-target="closest .task" '
                f'hx-swap="outerHTML" class="task-snooze">{inputs}\n    <select name="until" '
                f'aria-label="{words["put_off_by"]}">{self.snooze_options}</select>\n'
                f'    <button type="submit" class="small">{words["put_off"]}</button></form>')
        else:
            reopen = self.url("work:task_reopen", task.public_id)
            forms = (f'\n  <form method="post" action="{reopen}" hx-post="{reopen}" hx-target="closest .task" '
                     f'hx-swap="outerHTML">{inputs}\n    <button type="submit" class="small task-reopen">'
                     f'{words["reopen"]}</button></form>')
        return f'<div class="task-actions">{forms}\n</div>'

    def item(self, task) -> str:
        meta = f'<span class="task-due num">{self.local(task.due_at, "%m-%d %H:%M")}</span>'
        if task.customer_id:
            customer = task.customer
            meta += (f' · <a href="{self.url("customers:detail", customer.public_id)}" class="task-customer">'
                     f'{esc(customer.name)}</a>')
        if self.show_owner:
            meta += f" · {esc(task.owner)}"
        if task.remind_at and task.status == "open":
            reminder = self.words["reminder"]
            meta += f' · <span title="{reminder}">{reminder} {self.local(task.remind_at, "%H:%M")}</span>'
        if task.recurrence_days:
            n = task.recurrence_days
            meta += " · " + esc(ngettext("every %(n)s day", "every %(n)s days", n) % {"n": n})
        error = self.error
        return (
            f'<li class="task task-{esc(task.status)}{" overdue" if self.overdue(task) else ""}" '
            f'id="task-{task.public_id}" data-task="{task.public_id}">\n  <div class="task-main">\n    '
            f'<a class="task-title" href="{self.url("work:task_detail", task.public_id)}">{esc(task.title)}</a> '
            f'{self.badges(task)}\n    <div class="task-meta">{meta}</div>\n'
            + (f'    <div class="error" role="alert">{esc(error)}</div>\n' if error else "")
            + f'  </div>\n  {self.actions(task)}\n</li>\n')


@register.simple_tag(takes_context=True)
def task_item(context, task) -> SafeString:
    """Return the task's <li>: title, status, due time, customer, owner (show_owner), reminder, recurrence and,
    with can_change, the done / put-off / reopen forms (context: can_change, next, show_owner, task_error,
    snooze_choices)."""
    return mark_safe(_Page(context).item(task))


@register.simple_tag(takes_context=True)
def task_items(context, tasks) -> SafeString:
    """Return the <li> of each task (see task_item)."""
    page = _Page(context)
    return mark_safe("".join(page.item(task) for task in tasks))


@register.simple_tag(takes_context=True)
def task_status(context, task) -> SafeString:
    """Return the badges of a done, cancelled, overdue or high-priority task."""
    return mark_safe(_Page(context).badges(task))


@register.simple_tag(takes_context=True)
def task_actions(context, task, view: str) -> SafeString:
    """Return the task's action forms for the view "item" or "row" (empty without can_change)."""
    return mark_safe(_Page(context, view).actions(task))

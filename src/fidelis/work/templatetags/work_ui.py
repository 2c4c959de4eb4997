"""A task as "my day", the customer panel and the task list show it, rendered in Python.

"My day" shows up to 60 tasks, each with a status, a customer link and two small forms: as template includes that
was 80 % of the home page's time; the same markup built here costs about a fifth (measured with 40 tasks).
What every task of a list shares (the language's words, the URLs' fixed parts, the hidden inputs, the put-off
options, the time zone) is worked out once per process in `_Look`, and the tasks of one page share one `_Page`.
The <li> of a task read as a `TaskLine` ("my day") is kept per process, keyed by everything it shows, with a
stand-in for the request's CSRF token: a page whose tasks did not change joins stored text (40 tasks: 0.55 →
0.1 ms in process).
The templates work/_task_item.html, _task_row.html and task_detail.html call these tags, so every page and every
htmx answer shows a task the same way.
"""

import secrets
from datetime import tzinfo
from functools import cached_property, lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_noop, ngettext, pgettext

from fidelis.web.templatetags.fidelis_ui import esc, url_around_id, url_once
from fidelis.work.selectors import TaskLine

register = template.Library()
_URLS = ("work:task_complete", "work:task_snooze", "work:task_reopen", "work:task_detail", "customers:detail")
# Stands for the CSRF token in stored task markup: unguessable, so no title or name can contain it.
_CSRF = f"csrf{secrets.token_hex(12)}"


@lru_cache(maxsize=16)
def _words(language: str) -> dict[str, str]:
    # The fixed words of a task, translated and escaped once per language instead of eight times per task.
    # The button says what it does ("完成"); the badge what the task is ("已完成").
    return {"complete": esc(pgettext("task action", "Done"))} | {key: esc(gettext(text)) for key, text in (
        ("done", gettext_noop("Done")), ("cancelled", gettext_noop("Cancelled")),
        ("overdue", gettext_noop("Overdue")), ("high", gettext_noop("High priority")),
        ("mark_done", gettext_noop("Mark as done")), ("put_off_by", gettext_noop("Put off by")),
        ("put_off", gettext_noop("Put off")), ("reopen", gettext_noop("Reopen")), ("reminder", gettext_noop("reminder")),
        # the groups of "my day" (my_day_groups)
        ("today", gettext_noop("Today")), ("upcoming", gettext_noop("Next 7 days")),
        ("none_overdue", gettext_noop("Nothing overdue.")), ("none_today", gettext_noop("Nothing more due today.")),
        ("none_upcoming", gettext_noop("Nothing planned yet.")), ("more", gettext_noop("More tasks …")))}


class _Look:
    """How the tasks of a list look for one language, script prefix, time zone and set of options: made once per
    process (`_look`), so it also keys the stored markup of its tasks."""

    def __init__(self, language: str, prefix: str, urlconf, zone: tzinfo, can_change: bool, show_owner: bool,
                 view: str, next_url: str, snooze_choices) -> None:
        self.language, self.zone, self.can_change, self.show_owner = language, zone, can_change, show_owner
        self.words = _words(language)
        self.urls = {name: url_around_id(name, prefix, urlconf) for name in _URLS}
        hidden = (f'<input type="hidden" name="view" value="{esc(view)}"><input type="hidden" name="next" '
                  f'value="{esc(next_url)}">' + ('<input type="hidden" name="show_owner" value="1">'
                                                 if show_owner else ""))
        # The CSRF token, the view and the page to come back to, as hidden inputs of each form.
        self.inputs = f'<input type="hidden" name="csrfmiddlewaretoken" value="{_CSRF}">\n    {hidden}'
        # Held, so that the choices' id in the key of `_look` stands for no other object while this look lives.
        self.snooze_choices = snooze_choices

    @cached_property
    def snooze_options(self) -> str:
        with translation.override(self.language):
            return "".join(f'<option value="{esc(value)}">{esc(label)}</option>'
                           for value, label in self.snooze_choices)

    def url(self, name: str, public_id: str) -> str:
        head, tail = self.urls[name]
        return f"{head}{public_id}{tail}"

    def local(self, value, fmt: str) -> str:
        return value.astimezone(self.zone).strftime(fmt)

    def badges(self, task, overdue: bool) -> str:
        words = self.words
        if task.status == "done":
            html = f'<span class="badge ok task-state">{words["done"]}</span>'
        elif task.status == "cancelled":
            html = f'<span class="badge muted task-state">{words["cancelled"]}</span>'
        elif overdue:
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

    def item(self, task, overdue: bool, error: str | None = None) -> str:
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
        return (
            f'<li class="task task-{esc(task.status)}{" overdue" if overdue else ""}" '
            f'id="task-{task.public_id}" data-task="{task.public_id}">\n  <div class="task-main">\n    '
            f'<a class="task-title" href="{self.url("work:task_detail", task.public_id)}">{esc(task.title)}</a> '
            f'{self.badges(task, overdue)}\n    <div class="task-meta">{meta}</div>\n'
            + (f'    <div class="error" role="alert">{esc(error)}</div>\n' if error else "")
            + f'  </div>\n  {self.actions(task)}\n</li>\n')


_LOOKS: dict[tuple, _Look] = {}


def _look(language: str, prefix: str, urlconf, zone: tzinfo, can_change: bool, show_owner: bool, view: str,
          next_url: str, snooze_choices) -> _Look:
    # The put-off choices are a constant list (SnoozeForm.CHOICES): keyed by identity, not by their labels, which
    # would be translated to be hashed on every page. A look holds its choices, so their id names no other object
    # while the look is kept.
    key = (language, prefix, urlconf, zone, can_change, show_owner, view, next_url, id(snooze_choices))
    look = _LOOKS.get(key)
    if look is None:
        if len(_LOOKS) >= 256:
            _LOOKS.clear()
        look = _LOOKS[key] = _Look(language, prefix, urlconf, zone, can_change, show_owner, view, next_url,
                                   snooze_choices)
    return look


@lru_cache(maxsize=4096)
def _stored_item(look: _Look, task: TaskLine, overdue: bool) -> str:
    # A TaskLine holds every value its <li> shows (title, status, times, customer), so it keys the markup.
    # `ngettext` reads the active language: the look's language is part of the key.
    return look.item(task, overdue)


class _Page:
    """What the tasks of one rendering share, read from the template context once."""

    def __init__(self, context, view: str = "item") -> None:
        request = context.get("request")
        next_url = context.get("next") or (request.get_full_path() if request is not None else "")
        self.look = _look(get_language(), get_script_prefix(), get_urlconf(), timezone.get_current_timezone(),
                          bool(context.get("can_change")), bool(context.get("show_owner")), view, next_url,
                          context.get("snooze_choices") or ())
        self.now = timezone.now()
        self.error = context.get("task_error")
        self.context = context

    @cached_property
    def csrf(self) -> str:
        # Read only for markup with forms: the token is made (and its cookie set) on first use.
        return esc(self.context.get("csrf_token", ""))

    @classmethod
    def of(cls, context, view: str = "item") -> "_Page":
        """Return the page's tasks' shared state, made once per template rendering (and set of options)."""
        key = ("work_ui", view, context.get("can_change"), context.get("show_owner"), context.get("next"),
               context.get("task_error"))
        page = context.render_context.get(key)
        if page is None:
            page = context.render_context[key] = cls(context, view)
        return page

    def overdue(self, task) -> bool:
        return task.status == "open" and task.due_at < self.now

    def item(self, task) -> str:
        overdue = self.overdue(task)
        if isinstance(task, TaskLine) and not self.error:
            return _stored_item(self.look, task, overdue)
        return self.look.item(task, overdue, self.error)

    def finish(self, html: str) -> SafeString:
        return mark_safe(html.replace(_CSRF, self.csrf) if self.look.can_change else html)


@register.simple_tag(takes_context=True)
def task_item(context, task) -> SafeString:
    """Return the task's <li>: title, status, due time, customer, owner (show_owner), reminder, recurrence and,
    with can_change, the done / put-off / reopen forms (context: can_change, next, show_owner, task_error,
    snooze_choices)."""
    page = _Page.of(context)
    return page.finish(page.item(task))


@register.simple_tag(takes_context=True)
def task_items(context, tasks) -> SafeString:
    """Return the <li> of each task (see task_item)."""
    page = _Page.of(context)
    return page.finish("".join([page.item(task) for task in tasks]))


@register.simple_tag(takes_context=True)
def task_status(context, task) -> SafeString:
    """Return the badges of a done, cancelled, overdue or high-priority task."""
    page = _Page.of(context)
    return mark_safe(page.look.badges(task, page.overdue(task)))


@register.simple_tag(takes_context=True)
def task_actions(context, task, view: str) -> SafeString:
    """Return the task's action forms for the view "item" or "row" (empty without can_change)."""
    page = _Page.of(context, view)
    return page.finish(page.look.actions(task))


@register.simple_tag(takes_context=True)
def my_day_groups(context, day) -> SafeString:
    """Return "my day" (a `MyDay`) as the home page shows it: overdue, today and the next 7 days, each with its
    count and tasks (see task_item) or a line saying there are none, and a link to the task list when more are
    due. Its words are translated once per language (a dozen {% translate %} nodes were a tenth of the page)."""
    words = _words(get_language())
    request = context.get("request")
    with context.push(can_change=context.get("can_change_tasks"), next=request.get_full_path() if request else ""):
        page = _Page.of(context)
        html = ['<div class="my-day-groups">']
        for group, tasks in (("overdue", day.overdue), ("today", day.today), ("upcoming", day.upcoming)):
            badge = "bad" if group == "overdue" and tasks else "muted"
            empty = "" if tasks else f'<li class="muted small">{words["none_" + group]}</li>'
            html.append(f'\n  <div class="task-group" id="tasks-{group}"><h3 class="small">{words[group]} '
                        f'<span class="badge {badge}">{len(tasks)}</span></h3>\n    <ul class="task-list">'
                        f'{"".join([page.item(task) for task in tasks])}{empty}</ul></div>')
        html.append("\n  </div>")
        if day.more:
            html.append(f'<p class="small"><a href="{url_once("work:tasks")}">{words["more"]}</a></p>')
        return page.finish("".join(html))

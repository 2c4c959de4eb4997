"""Forms of tasks and follow-up rules; saving goes through the services."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.models import User
from fidelis.events.models import EVENT_TYPE_LABELS, INTERACTION_TYPES, Channel, InteractionOutcome
from fidelis.work.models import FollowUpRule, FollowUpTrigger, Task, TaskPriority
from fidelis.work.selectors import assignable_users

REMIND_CHOICES = [
    ("", _("No reminder")),
    ("0", _("At the due time")),
    ("5", _("5 minutes before")),
    ("15", _("15 minutes before")),
    ("30", _("30 minutes before")),
    ("60", _("1 hour before")),
    ("120", _("2 hours before")),
    ("1440", _("1 day before")),
]


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj} ({obj.get_role_display()})"


class TaskForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=200,
                            widget=forms.TextInput(attrs={"placeholder": _("e.g. Call Mrs Li before her grooming "
                                                                           "appointment")}))
    customer = forms.CharField(label=_("customer"), required=False, widget=forms.Select)
    owner = _UserChoice(label=_("owner"), queryset=User.objects.none())
    due_date = forms.DateField(label=_("due date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    due_time = forms.TimeField(label=_("due time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    remind_before = forms.TypedChoiceField(label=_("reminder"), choices=REMIND_CHOICES, required=False,
                                           coerce=int, empty_value=None,
                                           help_text=_("By e-mail to the owner, and on the home page."))
    priority = forms.TypedChoiceField(label=_("priority"), choices=TaskPriority.choices, coerce=int,
                                      initial=TaskPriority.NORMAL)
    recurrence_days = forms.IntegerField(label=_("repeat every (days)"), required=False, min_value=1, max_value=365,
                                         help_text=_("When the task is done, the next one is due this many days "
                                                     "later. Empty: once."))
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, customer=None, task: Task | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        owners = assignable_users()
        if task is not None:
            owners = owners | User.objects.filter(pk=task.owner_id)
        self.fields["owner"].queryset = owners.distinct()
        chosen = customer or (task.customer if task is not None else None)
        self.fields["customer"].widget.choices = [("", _("— no customer —"))] + (
            [(chosen.public_id, f"{chosen.name} ({chosen.number})")] if chosen is not None else [])
        if chosen is not None:
            self.fields["customer"].initial = chosen.public_id
        if task is not None:
            local = timezone.localtime(task.due_at)
            lead = None
            if task.remind_at is not None:
                lead = str(int((task.due_at - task.remind_at).total_seconds() // 60))
                if lead not in dict(REMIND_CHOICES):
                    self.fields["remind_before"].choices = [*REMIND_CHOICES, (lead, _("%(n)s minutes before")
                                                                              % {"n": lead})]
            self.initial.update(title=task.title, owner=task.owner_id, due_date=local.date(),
                                due_time=local.time().replace(second=0, microsecond=0), remind_before=lead or "",
                                priority=task.priority, recurrence_days=task.recurrence_days, notes=task.notes)

    def due_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.cleaned_data["due_date"], self.cleaned_data["due_time"]))

    def service_data(self) -> dict:
        """Return the arguments of task_create / the changes of task_update."""
        data = self.cleaned_data
        return {"title": data["title"], "customer": data.get("customer") or None, "owner": data["owner"],
                "due_at": self.due_at(), "remind_before": data.get("remind_before"), "priority": data["priority"],
                "recurrence_days": data.get("recurrence_days"), "notes": data.get("notes", "")}

    @staticmethod
    def initial_due() -> dict:
        """Return the default due date and time: the next full hour, today."""
        now = timezone.localtime()
        due = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        if due.date() != now.date():
            due = now.replace(hour=23, minute=59, second=0, microsecond=0)
        return {"due_date": due.date(), "due_time": due.time(), "remind_before": "0"}


class FollowUpRuleForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=80)
    is_active = forms.BooleanField(label=_("active"), required=False, initial=True)
    trigger = forms.ChoiceField(label=_("trigger"), choices=FollowUpTrigger.choices)
    delay_days = forms.IntegerField(label=_("days after"), min_value=0, max_value=365, initial=7)
    due_time = forms.TimeField(label=_("due time"), initial=time(10, 0),
                               widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    store = forms.CharField(label=_("store"), max_length=80, required=False,
                            help_text=_("Only purchases in this store (empty: every store)."))
    min_amount = forms.DecimalField(label=_("minimum amount"), required=False, min_value=0, max_digits=12,
                                    decimal_places=2, help_text=_("Only purchases of at least this amount, in CNY."))
    assignee = _UserChoice(label=_("otherwise assign to"), queryset=User.objects.none(), required=False,
                           help_text=_("The task goes to the customer's owner; to this user when the customer has "
                                       "none."))
    title_template = forms.CharField(label=_("task title"), max_length=200, initial="回访 {customer}：{order_no}",
                                     help_text=_("May use {customer}, {order_no}, {amount} and {store}."))
    priority = forms.TypedChoiceField(label=_("priority"), choices=TaskPriority.choices, coerce=int,
                                      initial=TaskPriority.NORMAL)
    remind_before = forms.TypedChoiceField(label=_("reminder"), choices=REMIND_CHOICES, required=False, coerce=int,
                                           empty_value=None, initial="0")

    def __init__(self, *args, rule: FollowUpRule | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()
        if rule is not None:
            self.initial.update({name: getattr(rule, name) for name in (
                "name", "is_active", "trigger", "delay_days", "due_time", "store", "min_amount", "title_template",
                "priority")})
            self.initial["assignee"] = rule.assignee_id
            self.initial["remind_before"] = "" if rule.remind_before is None else str(rule.remind_before)
            if self.initial["remind_before"] not in dict(REMIND_CHOICES):
                lead = self.initial["remind_before"]
                self.fields["remind_before"].choices = [*REMIND_CHOICES, (lead, _("%(n)s minutes before")
                                                                          % {"n": lead})]

    def service_data(self) -> dict:
        return dict(self.cleaned_data)


class SnoozeForm(forms.Form):
    """Put a task off: by an hour, to tomorrow morning, by a week, or to a chosen time."""

    CHOICES = [("1h", _("1 hour")), ("tomorrow", _("Tomorrow 9:00")), ("week", _("1 week"))]
    until = forms.ChoiceField(choices=CHOICES, required=False)
    at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def until_for(self, task: Task, now: datetime | None = None) -> datetime | str:
        now = timezone.localtime(now)
        if self.cleaned_data.get("at"):
            return self.cleaned_data["at"]
        choice = self.cleaned_data.get("until") or "1h"
        if choice == "tomorrow":
            return (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        if choice == "week":
            return max(task.due_at, now) + timedelta(days=7)
        return max(task.due_at, now) + timedelta(hours=1)


class InteractionForm(forms.Form):
    """Log a call, visit, message, e-mail or note from the 360° page, with an optional follow-up task."""

    type = forms.ChoiceField(label=_("what happened"), choices=[(t, EVENT_TYPE_LABELS[t]) for t in INTERACTION_TYPES])
    channel = forms.ChoiceField(label=_("channel"), initial=Channel.PHONE, choices=[
        (c.value, c.label) for c in (Channel.PHONE, Channel.STORE, Channel.WECHAT, Channel.EMAIL, Channel.SMS,
                                     Channel.ONLINE)])
    outcome = forms.ChoiceField(label=_("outcome"), required=False,
                                choices=[("", _("— outcome —")), *InteractionOutcome.choices])
    text = forms.CharField(label=_("what was said"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))
    follow_up_at = forms.DateTimeField(label=_("follow up at"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"),
                                       input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                       help_text=_("A task for you at that time (optional)."))
    follow_up_title = forms.CharField(label=_("follow-up task"), required=False, max_length=200)

"""Forms of the program's set-up: program, tiers, earn rules (with their condition and action rows), coupon
templates, rewards. They parse and check the input; saving goes through the services, which validate again."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext_lazy as _

from fidelis.core.errors import DomainError, form_error
from fidelis.events.models import Channel, EventType
from fidelis.loyalty.engine import ACTIONS, CONDITIONS, Kind
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import (
    CouponTemplate,
    Objective,
    Program,
    Reward,
    Rounding,
    Rule,
    RuleStatus,
    Tier,
)
from fidelis.loyalty.services import PROGRAM_FIELDS, REWARD_FIELDS, TEMPLATE_FIELDS, TIER_FIELDS

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ServiceModelForm(forms.ModelForm):
    """A model form that only parses: the service assigns the values and runs the model's validation."""

    service_fields: tuple[str, ...] = ()

    def _post_clean(self):
        pass

    def service_data(self) -> dict:
        """Return the cleaned values for the service, only of the fields the form has."""
        return {name: self.cleaned_data[name] for name in self.service_fields if name in self.cleaned_data}

    def add_domain_error(self, exc: DomainError) -> None:
        """Show a service's refusal on its field (on the form when the field is not one of the form's)."""
        form_error(self, exc)


class ProgramForm(ServiceModelForm):
    service_fields = PROGRAM_FIELDS

    class Meta:
        model = Program
        fields = PROGRAM_FIELDS
        widgets = {
            "lock_in": forms.Textarea(attrs={"rows": 3}),
            "kpi_notes": forms.Textarea(attrs={"rows": 3}),
            "point_value": forms.NumberInput(attrs={"step": "0.0001", "min": "0"}),
        }

    fieldsets_spec = (
        ("goal", _("Objective"), ("name", "objective", "target_customers", "lock_in", "kpi_notes")),
        ("points", _("Points"), ("currency_name", "point_value", "expiry_months", "expiry_notice_days")),
        ("members", _("Members"), ("member_prefix", "enrol_on_join_event", "is_active")),
    )
    wide = frozenset({"lock_in", "kpi_notes", "enrol_on_join_event"})

    def fieldsets(self):
        """Yield (key, legend, bound fields)."""
        for key, legend, names in self.fieldsets_spec:
            yield key, legend, [self[name] for name in names]


class StarterProgramForm(forms.Form):
    """Start from the mall template: a name and an objective, the rest comes from `templates.starter_program`."""

    name = forms.CharField(label=_("name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. Galaxy member club")}))
    objective = forms.ChoiceField(label=_("objective"), choices=Objective.choices, initial=Objective.FREQUENCY)


class TierForm(ServiceModelForm):
    service_fields = TIER_FIELDS

    class Meta:
        model = Tier
        fields = TIER_FIELDS
        widgets = {
            "benefits": forms.Textarea(attrs={"rows": 3}),
            "color": forms.TextInput(attrs={"type": "color"}),
            "threshold": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "earn_multiplier": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }

    def clean_color(self) -> str:
        color = self.cleaned_data["color"].strip()
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            raise forms.ValidationError(_("A colour looks like #c9a227."))
        return color.lower()


class CouponTemplateForm(ServiceModelForm):
    service_fields = TEMPLATE_FIELDS

    class Meta:
        model = CouponTemplate
        fields = TEMPLATE_FIELDS
        widgets = {
            "valid_from": DATETIME_WIDGET,
            "valid_until": DATETIME_WIDGET,
            "value": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "max_discount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "min_spend": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }

    fieldsets_spec = (
        ("what", _("What the coupon gives"), ("name", "kind", "value", "max_discount", "min_spend", "gift")),
        ("when", _("Validity"), ("valid_days", "valid_from", "valid_until")),
        ("limits", _("Limits"), ("per_customer_limit", "total_limit", "is_active")),
    )
    wide: frozenset[str] = frozenset()

    def fieldsets(self):
        for key, legend, names in self.fieldsets_spec:
            yield key, legend, [self[name] for name in names]


class RewardForm(ServiceModelForm):
    service_fields = REWARD_FIELDS

    class Meta:
        model = Reward
        fields = REWARD_FIELDS

    def __init__(self, *args, program: Program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coupon_template"].queryset = CouponTemplate.objects.filter(program=program).order_by("name")
        self.fields["min_tier"].queryset = Tier.objects.filter(program=program).order_by("rank")
        self.fields["coupon_template"].help_text = _("For a coupon reward: the coupon the member gets.")
        self.fields["min_tier"].empty_label = _("Every member")
        self.fields["coupon_template"].empty_label = _("No coupon")


# --- earn rules -------------------------------------------------------------------------------------------------

# Rows of conditions and actions are posted as "<group>-<n>-kind" and "<group>-<n>-<parameter>"; n is any number
# (rows are added and removed in the browser) and the rows are numbered 0, 1, … in the order of n, which is the
# numbering of rule_save's errors ("conditions.1.values").
GROUPS = {"cond": ("conditions", CONDITIONS), "act": ("actions", ACTIONS)}
ROW_KEY = re.compile(r"^(cond|act)-(\d{1,6})-kind$")


@dataclass(frozen=True)
class Param:
    widget: str  # number, text, date, weekdays, select
    label: Any
    step: str = ""
    minimum: str = ""
    placeholder: Any = ""


PARAMS: dict[str, Param] = {
    "value": Param("number", _("amount (CNY)"), step="0.01", minimum="0"),
    "values": Param("text", _("values"), placeholder=_("separated by commas")),
    "start": Param("date", _("from")),
    "end": Param("date", _("until")),
    "weekdays": Param("weekdays", _("weekdays")),
    "n": Param("number", _("n-th purchase"), step="1", minimum="1"),
    "points": Param("number", _("points"), step="1", minimum="1"),
    "rate": Param("number", _("points per CNY"), step="0.01", minimum="0"),
    "rounding": Param("select", _("rounding")),
    "factor": Param("number", _("multiplier"), step="0.1", minimum="1"),
    "template": Param("select", _("coupon")),
    "tier": Param("select", _("tier")),
    "tag": Param("text", _("tag"), placeholder=_("group:name or name")),
}


@dataclass
class ParamField:
    name: str
    input_name: str
    spec: Param
    value: Any
    choices: list[tuple[str, Any]] = field(default_factory=list)
    help: Any = ""
    error: str = ""


@dataclass
class ItemRow:
    """One condition or action row of the rule editor."""

    group: str  # cond / act
    index: int
    kind: str
    kinds: list[tuple[str, Any]]
    params: list[ParamField]
    error: str = ""

    @property
    def prefix(self) -> str:
        return f"{self.group}-{self.index}"

    @property
    def has_error(self) -> bool:
        return bool(self.error or any(p.error for p in self.params))


def _choices(program: Program | None, name: str) -> list[tuple[str, Any]]:
    if name == "rounding":
        return list(Rounding.choices)
    if program is None:
        return []
    if name == "template":
        return [("", "—")] + [(t.public_id, t.name) for t in program.coupon_templates.order_by("name")]
    if name == "tier":
        return [("", "—")] + [(str(t.pk), t.name) for t in program.tiers.order_by("rank")]
    return []


def _help(program: Program | None, kind: str, name: str) -> Any:
    if name != "values":
        return ""
    if kind == "channel_in":
        return ", ".join(f"{value} ({label})" for value, label in Channel.choices)
    if kind == "tier_in" and program is not None:
        return ", ".join(program.tiers.order_by("rank").values_list("name", flat=True))
    return ""


def _shown(value: Any) -> Any:
    if isinstance(value, list):
        return [str(v) for v in value]
    return "" if value is None else str(value)


def item_row(program: Program | None, group: str, index: int, kind: str, values: dict | None = None,
             errors: dict[str, str] | None = None, error: str = "") -> ItemRow:
    """Return the editor row of a condition or action of this kind, with its parameters' widgets."""
    table: dict[str, Kind] = GROUPS[group][1]
    if kind not in table:
        kind = next(iter(table))
    values, errors = values or {}, errors or {}
    params = []
    for name in table[kind].params:
        value = values.get(name, [] if name == "weekdays" else "")
        if name == "weekdays":
            value = [str(v) for v in (value.split(",") if isinstance(value, str) else value or []) if str(v).strip()]
        elif name == "values" and isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif name == "rounding" and not value:
            value = Rounding.FLOOR
        params.append(ParamField(name=name, input_name=f"{group}-{index}-{name}", spec=PARAMS[name],
                                 value=_shown(value), choices=_choices(program, name),
                                 help=_help(program, kind, name), error=errors.get(name, "")))
    return ItemRow(group=group, index=index, kind=kind, kinds=[(k, v.label) for k, v in table.items()],
                   params=params, error=error)


WEEKDAYS = [(str(day), WEEKDAYS_ABBR[day - 1]) for day in range(1, 8)]


def posted_rows(data, group: str) -> list[tuple[int, str, dict]]:
    """Return the posted rows of a group as (posted number, kind, raw parameters), in the order of the number."""
    numbers = sorted({int(m.group(2)) for key in data if (m := ROW_KEY.match(key)) and m.group(1) == group})
    table = GROUPS[group][1]
    rows = []
    for n in numbers:
        kind = str(data.get(f"{group}-{n}-kind", "")).strip()
        params: dict[str, Any] = {}
        for name in (table[kind].params if kind in table else ()):
            key = f"{group}-{n}-{name}"
            if name == "weekdays":
                params[name] = [v for v in data.getlist(key) if v.strip()] if hasattr(data, "getlist") else []
            else:
                params[name] = str(data.get(key, "")).strip()
        rows.append((n, kind, params))
    return rows


def next_row_number(data, group: str) -> int:
    """Return a row number no posted row of the group uses."""
    numbers = [int(m.group(2)) for key in data if (m := ROW_KEY.match(key)) and m.group(1) == group]
    return max(numbers, default=-1) + 1


# Parameters a row cannot do without (a date window needs one of its three, which the engine checks).
REQUIRED_PARAMS = frozenset({"value", "values", "n", "points", "rate", "factor", "template", "tier", "tag"})


def _items(rows: list[tuple[int, str, dict]]) -> list[dict]:
    return [{"kind": kind, **params} for _n, kind, params in rows]


def trigger_choices() -> list[tuple[str, Any]]:
    return [("", _("— choose an event —"))] + [(value, f"{label} · {value}") for value, label in EventType.choices]


class RuleForm(forms.Form):
    """The rule editor: the rule's fields, and its conditions and actions as rows (see `posted_rows`)."""

    name = forms.CharField(label=_("name"), max_length=80)
    description = forms.CharField(label=_("description"), max_length=200, required=False)
    trigger = forms.ChoiceField(label=_("when this happens"), required=False, choices=trigger_choices)
    trigger_other = forms.CharField(
        label=_("or another event type"), max_length=40, required=False,
        widget=forms.TextInput(attrs={"placeholder": "app.opened", "autocomplete": "off"}),
        help_text=_("Any event type the event stream receives, e.g. app.opened."))
    priority = forms.IntegerField(label=_("priority"), initial=100, min_value=-32768, max_value=32767,
                                  help_text=_("Higher runs first."))
    starts_at = forms.DateTimeField(label=_("starts"), required=False, widget=DATETIME_WIDGET)
    ends_at = forms.DateTimeField(label=_("ends"), required=False, widget=DATETIME_WIDGET)
    cap_member_day = forms.IntegerField(label=_("cap per member per day (points)"), required=False, min_value=1,
                                        help_text=_("Empty: no cap."))
    cap_total = forms.IntegerField(label=_("cap in total (points)"), required=False, min_value=1,
                                   help_text=_("Empty: no cap."))
    stop_further = forms.BooleanField(label=_("stop here"), required=False,
                                      help_text=_("When this rule applies, rules of lower priority are skipped."))
    status = forms.ChoiceField(label=_("status"), choices=RuleStatus.choices, initial=RuleStatus.DRAFT)
    # Shown once the rule, going live, was found to overlap live rules (`loyalty.overlap`).
    confirm_overlap = forms.BooleanField(
        label=_("Make it live anyway: the events both rules reward get both rewards"), required=False)

    SERVICE_FIELDS = ("name", "description", "trigger", "conditions", "actions", "priority", "starts_at", "ends_at",
                      "cap_member_day", "cap_total", "stop_further", "status")

    def __init__(self, data=None, *, program: Program, rule: Rule | None = None, **kwargs):
        if rule is not None and data is None:
            known = rule.trigger in EventType.values
            kwargs.setdefault("initial", {
                "name": rule.name, "description": rule.description,
                "trigger": rule.trigger if known else "", "trigger_other": "" if known else rule.trigger,
                "priority": rule.priority, "starts_at": rule.starts_at and timezone.localtime(rule.starts_at),
                "ends_at": rule.ends_at and timezone.localtime(rule.ends_at), "cap_member_day": rule.cap_member_day,
                "cap_total": rule.cap_total, "stop_further": rule.stop_further, "status": rule.status})
        super().__init__(data, **kwargs)
        self.program = program
        self.rule = rule
        self.group_errors: dict[str, str] = {}
        if data is not None:
            self._rows = {group: posted_rows(data, group) for group in GROUPS}
        elif rule is not None:
            self._rows = {"cond": [(i, c["kind"], c) for i, c in enumerate(rule.conditions)],
                          "act": [(i, a["kind"], a) for i, a in enumerate(rule.actions)]}
        else:
            self._rows = {"cond": [], "act": [(0, "award_points", {})]}
        self._row_errors: dict[str, dict[int, dict[str, str]]] = {"cond": {}, "act": {}}

    def clean(self):
        cleaned = super().clean()
        trigger = (cleaned.get("trigger_other") or "").strip() or cleaned.get("trigger") or ""
        if not trigger and "trigger" not in self.errors:
            self.add_error("trigger", _("Choose the event that triggers the rule."))
        cleaned["trigger"] = trigger
        start, end = cleaned.get("starts_at"), cleaned.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", _("The rule ends before it starts."))
        cleaned["conditions"] = _items(self._rows["cond"])
        cleaned["actions"] = _items(self._rows["act"])
        for group in GROUPS:
            for index, (_n, _kind, params) in enumerate(self._rows[group]):
                for name, value in params.items():
                    if name in REQUIRED_PARAMS and value == "":
                        self._row_error(group, index, name, str(_("This field is required.")))
        if any(self._row_errors.values()):
            self.add_error(None, _("Fill in the conditions and actions marked below."))
        return cleaned

    def _row_error(self, group: str, index: int, param: str | None, message: str) -> None:
        row = self._row_errors[group].setdefault(index, {"params": {}})
        if param and param != "kind":
            row["params"][param] = message
        else:
            row["row"] = message

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SERVICE_FIELDS if name in self.cleaned_data}

    def rows(self, group: str) -> list[ItemRow]:
        """Return the editor rows of a group, numbered 0, 1, … (the numbering of the service's errors)."""
        errors = self._row_errors[group]
        return [item_row(self.program, group, i, kind, params, errors.get(i, {}).get("params"),
                         errors.get(i, {}).get("row", ""))
                for i, (_n, kind, params) in enumerate(self._rows[group])]

    @property
    def condition_rows(self) -> list[ItemRow]:
        return self.rows("cond")

    @property
    def action_rows(self) -> list[ItemRow]:
        return self.rows("act")

    @property
    def next_numbers(self) -> dict[str, int]:
        return {group: len(self._rows[group]) for group in GROUPS}

    # Fields a preview does without: it only needs what decides which events match and what they give.
    NOT_FOR_PREVIEW = frozenset({"name", "description", "status", "confirm_overlap"})

    def blocks_preview(self) -> bool:
        return any(name not in self.NOT_FOR_PREVIEW for name in self.errors)

    def error_lines(self) -> list[str]:
        """Return every error of the form as a line naming its place ("Condition 2 · values: …")."""
        lines = [f"{self[name].label}: {' '.join(errors)}" for name, errors in self.errors.items()
                 if name in self.fields]
        groups = {"cond": _("Conditions"), "act": _("Actions")}
        rows = {"cond": _("Condition"), "act": _("Action")}
        for group, message in self.group_errors.items():
            lines.append(f"{groups[group]}: {message}")
        for group, errors in self._row_errors.items():
            for index, error in sorted(errors.items()):
                place = f"{rows[group]} {index + 1}"
                if error.get("row"):
                    lines.append(f"{place}: {error['row']}")
                for name, message in error["params"].items():
                    label = PARAMS[name].label if name in PARAMS else name
                    lines.append(f"{place} · {label}: {message}")
        return lines or [" ".join(self.non_field_errors())]

    def add_domain_error(self, exc: DomainError) -> None:
        """Show a refusal of rule_save or validate_rule next to its field, its group or its row's parameter."""
        message = str(exc.message)
        if exc.code == LoyaltyCode.RULE_OVERLAP:
            self.add_error("confirm_overlap", message)
            return
        name = exc.field or ""
        parts = name.split(".")
        group = next((g for g, (label, _t) in GROUPS.items() if label == parts[0]), None)
        if group is not None:
            if len(parts) >= 2 and parts[1].isdigit():
                self._row_error(group, int(parts[1]), parts[2] if len(parts) >= 3 else None, message)
            else:
                self.group_errors[group] = message
            # Also at the top of the form: the rows may be far down the page.
            self.add_error(None, message)
        elif name == "trigger" and (self.data.get("trigger_other") or "").strip():
            self.add_error("trigger_other", message)
        elif name in self.fields:
            self.add_error(name, message)
        else:
            self.add_error(None, message)


class PreviewForm(forms.Form):
    """The window of past events a preview looks at: the last n days, or a chosen window."""

    DAYS = ((7, _("last 7 days")), (30, _("last 30 days")), (90, _("last 90 days")), (365, _("last 365 days")))

    preview_days = forms.TypedChoiceField(label=_("window"), choices=DAYS, coerce=int, initial=30, required=False)
    preview_since = forms.DateField(label=_("from"), required=False, widget=DATE_WIDGET)
    preview_until = forms.DateField(label=_("until (inclusive)"), required=False, widget=DATE_WIDGET)

    def clean(self):
        cleaned = super().clean()
        now = timezone.now()
        since, until = cleaned.get("preview_since"), cleaned.get("preview_until")
        if since or until:
            today = timezone.localdate()
            since = since or (until or today) - timedelta(days=30)
            until = until or today
            if until < since:
                self.add_error("preview_until", _("The window ends before it starts."))
            # Whole local days: from the start of `since` to the end of `until`.
            cleaned["since"] = since
            cleaned["until"] = until + timedelta(days=1)
        else:
            days = cleaned.get("preview_days") or 30
            cleaned["since"] = now - timedelta(days=days)
            cleaned["until"] = now
        return cleaned

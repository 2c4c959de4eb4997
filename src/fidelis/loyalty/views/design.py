"""The program's set-up, for marketing and managers: the program, tiers, earn rules (editor and preview), coupon
templates and rewards. Forms parse, the services save; nothing here writes a model."""

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError
from fidelis.loyalty.apply.evaluator import rule_view
from fidelis.loyalty.engine import ACTIONS, CONDITIONS, RuleView, validate_rule
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.forms import (
    GROUPS,
    WEEKDAYS,
    CouponTemplateForm,
    PreviewForm,
    ProgramForm,
    RewardForm,
    RuleForm,
    StarterProgramForm,
    TierForm,
    item_row,
    next_row_number,
    posted_rows,
)
from fidelis.loyalty.models import (
    CouponStatus,
    CouponTemplate,
    MemberStatus,
    Program,
    Reward,
    Rounding,
    Rule,
    RuleStatus,
    Tier,
)
from fidelis.loyalty.preview import preview_rule
from fidelis.loyalty.services import (
    coupon_template_save,
    program_save,
    reward_save,
    rule_activate,
    rule_delete,
    rule_overlap_check,
    rule_save,
    tier_save,
)
from fidelis.loyalty.templates import RULE_TEMPLATES, rule_from_template, starter_program

CAPABILITY = "loyalty.design"
# A draft being previewed sorts after the saved rules of its priority, as it will once it is saved.
DRAFT_ID = 2**62


def _program(public_id: str) -> Program:
    return get_object_or_404(Program, public_id=public_id)


def _overview(program: Program):
    return redirect(f"{reverse('loyalty:program')}?program={program.public_id}")


def _page(request, template: str, program: Program | None, section: str, context: dict, status: int = 200):
    return render(request, template, {"program": program, "section": section, **context}, status=status)


# --- program ----------------------------------------------------------------------------------------------------

@require_capability(CAPABILITY)
def program_create(request):
    """Create a program: from the mall template (when there is none yet) or from an empty form."""
    first = not Program.objects.exists()
    form = ProgramForm(request.POST if request.method == "POST" and "starter" not in request.POST else None)
    starter = StarterProgramForm(request.POST if "starter" in request.POST else None) if first else None
    if request.method == "POST":
        if starter is not None and starter.is_bound:
            if starter.is_valid():
                try:
                    program = starter_program(actor=request.user, name=starter.cleaned_data["name"],
                                              objective=starter.cleaned_data["objective"])
                except DomainError as exc:
                    starter.add_error("name" if exc.field == "name" else None, str(exc.message))
                else:
                    messages.success(request, _("Program %(name)s created from the mall template.")
                                     % {"name": program.name})
                    return _overview(program)
        elif form.is_valid():
            try:
                program = program_save(actor=request.user, data=form.service_data())
            except DomainError as exc:
                form.add_domain_error(exc)
            else:
                messages.success(request, _("Program %(name)s created. Add its tiers, coupons and earn rules next.")
                                 % {"name": program.name})
                return redirect("loyalty:design_tiers", program=program.public_id)
    return _page(request, "loyalty/design_program_form.html", None, "program",
                 {"form": form, "starter": starter, "creating": True, "cancel": reverse("loyalty:program"),
                  "form_id": "program-form"})


@require_capability(CAPABILITY)
def program_edit(request, program: str):
    """Change the program's objective, points and membership settings."""
    program = _program(program)
    form = ProgramForm(request.POST or None, instance=program)
    if request.method == "POST" and form.is_valid():
        try:
            program_save(actor=request.user, program=program, data=form.service_data())
        except DomainError as exc:
            program.refresh_from_db()
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Changes saved."))
            return _overview(program)
    return _page(request, "loyalty/design_program_form.html", program, "program", {
        "form": form, "cancel": f"{reverse('loyalty:program')}?program={program.public_id}", "form_id": "program-form"})


# --- tiers ------------------------------------------------------------------------------------------------------

@require_capability(CAPABILITY)
def tier_list(request, program: str):
    program = _program(program)
    tiers = program.tiers.annotate(n=Count("members", filter=Q(members__status=MemberStatus.ACTIVE))).order_by("rank")
    return _page(request, "loyalty/design_tiers.html", program, "tiers", {"tiers": tiers})


def _object_form(request, program: Program, obj, form, *, tab: str, form_id: str, new_title: str, saved: str,
                 save, extra: dict | None = None):
    """The create / edit page of a tier, coupon template or reward: save through the service, or show its error."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.service_data())
        except DomainError as exc:
            if obj is not None:
                obj.refresh_from_db()
            form.add_domain_error(exc)
        else:
            messages.success(request, saved % {"name": result.name})
            return redirect(f"loyalty:design_{tab}", program=program.public_id)
    return _page(request, "loyalty/design_form.html", program, tab, {
        "form": form, "object": obj, "title": obj.name if obj else new_title, "form_id": form_id,
        "cancel": reverse(f"loyalty:design_{tab}", args=[program.public_id]), **(extra or {})})


def _tier_form(request, program: Program, tier: Tier | None):
    initial = {}
    if tier is None:
        top = program.tiers.order_by("-rank").values_list("rank", flat=True).first()
        initial = {"rank": 0 if top is None else top + 1}
    form = TierForm(request.POST or None, instance=tier, initial=initial)
    return _object_form(request, program, tier, form, tab="tiers", form_id="tier-form", new_title=_("New tier"),
                        saved=_("Tier %(name)s saved."), extra={"kind_label": _("tier")},
                        save=lambda data: tier_save(actor=request.user, program=program, tier=tier, data=data))


@require_capability(CAPABILITY)
def tier_create(request, program: str):
    return _tier_form(request, _program(program), None)


@require_capability(CAPABILITY)
def tier_edit(request, program: str, pk: int):
    program = _program(program)
    return _tier_form(request, program, get_object_or_404(Tier, program=program, pk=pk))


# --- coupon templates -------------------------------------------------------------------------------------------

@require_capability(CAPABILITY)
def coupon_list(request, program: str):
    program = _program(program)
    templates = program.coupon_templates.annotate(
        used=Count("coupons", filter=Q(coupons__status=CouponStatus.REDEEMED))).order_by("-is_active", "name")
    return _page(request, "loyalty/design_coupons.html", program, "coupons", {"coupon_templates": templates})


def _coupon_form(request, program: Program, template: CouponTemplate | None):
    form = CouponTemplateForm(request.POST or None, instance=template)
    return _object_form(request, program, template, form, tab="coupons", form_id="coupon-form",
                        new_title=_("New coupon"), saved=_("Coupon %(name)s saved."),
                        save=lambda data: coupon_template_save(actor=request.user, program=program,
                                                               template=template, data=data))


@require_capability(CAPABILITY)
def coupon_create(request, program: str):
    return _coupon_form(request, _program(program), None)


@require_capability(CAPABILITY)
def coupon_edit(request, public_id: str):
    template = get_object_or_404(CouponTemplate.objects.select_related("program"), public_id=public_id)
    return _coupon_form(request, template.program, template)


# --- rewards ----------------------------------------------------------------------------------------------------

@require_capability(CAPABILITY)
def reward_list(request, program: str):
    program = _program(program)
    rewards = (program.rewards.select_related("coupon_template", "min_tier").annotate(redeemed=Count("redemptions"))
               .order_by("-is_active", "points_cost", "id"))
    return _page(request, "loyalty/design_rewards.html", program, "rewards", {"rewards": rewards})


def _reward_form(request, program: Program, reward: Reward | None):
    form = RewardForm(request.POST or None, instance=reward, program=program)
    return _object_form(request, program, reward, form, tab="rewards", form_id="reward-form",
                        new_title=_("New reward"), saved=_("Reward %(name)s saved."),
                        save=lambda data: reward_save(actor=request.user, program=program, reward=reward, data=data))


@require_capability(CAPABILITY)
def reward_create(request, program: str):
    return _reward_form(request, _program(program), None)


@require_capability(CAPABILITY)
def reward_edit(request, public_id: str):
    reward = get_object_or_404(Reward.objects.select_related("program"), public_id=public_id)
    return _reward_form(request, reward.program, reward)


# --- earn rules -------------------------------------------------------------------------------------------------

def _describe(items: list[dict], table: dict, names: dict[str, str]) -> list[str]:
    """Return each condition or action as a line people read ("Give points: 500")."""
    lines = []
    for item in items:
        kind = table.get(item.get("kind"))
        if kind is None:
            lines.append(str(item.get("kind")))
            continue
        shown = []
        for param in kind.params:
            value = item.get(param)
            if value in (None, "", []):
                continue
            if param in ("template", "tier"):
                value = names.get(f"{param}:{value}", value)
            elif param == "rounding":
                value = dict(Rounding.choices).get(value, value)
            elif param == "weekdays":
                value = "".join(str(label) for day, label in WEEKDAYS if int(day) in value)
            elif isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            shown.append(str(value))
        lines.append(f"{kind.label}: {' · '.join(shown)}" if shown else str(kind.label))
    return lines


def _ref_names(program: Program) -> dict[str, str]:
    names = {f"template:{public_id}": name for public_id, name in program.coupon_templates.values_list("public_id", "name")}
    names.update({f"tier:{pk}": name for pk, name in program.tiers.values_list("pk", "name")})
    return names


@require_capability(CAPABILITY)
def rule_list(request, program: str):
    """List the program's earn rules with what each does and what it gave."""
    program = _program(program)
    names = _ref_names(program)
    rules = list(program.rules.annotate(given=Sum("entries__points")).order_by("-priority", "id"))
    rows = [{"rule": r, "conditions": _describe(r.conditions, CONDITIONS, names),
             "actions": _describe(r.actions, ACTIONS, names)} for r in rules]
    return _page(request, "loyalty/design_rules.html", program, "rules", {"rows": rows})


def _editor(request, program: Program, form: RuleForm, rule: Rule | None, preview=None, preview_error="",
            preview_form: PreviewForm | None = None, overlap: str = "", status: int = 200):
    # What the rule has given, from the ledger as the program page counts it (`points_awarded` moves only for a
    # rule with a total cap, so that live events do not all update the rule's row).
    given = (rule.entries.aggregate(n=Sum("points"))["n"] or 0) if rule is not None else 0
    return _page(request, "loyalty/design_rule_form.html", program, "rules", {
        "form": form, "rule": rule, "given": given, "preview": preview, "preview_error": preview_error,
        "preview_form": preview_form or PreviewForm(),
        "row_url": reverse("loyalty:design_rule_row", args=[program.public_id]),
        "preview_url": reverse("loyalty:design_rule_preview", args=[program.public_id]),
        "weekdays": WEEKDAYS, "statuses": RuleStatus, "overlap": overlap}, status=status)


def _view(rule: Rule | None, data: dict) -> RuleView:
    """Return the evaluation view of the rule in the editor's cleaned data (a draft: `DRAFT_ID`)."""
    conditions, actions = validate_rule(data["trigger"], data["conditions"], data["actions"])
    return RuleView(id=rule.pk if rule else DRAFT_ID, trigger=data["trigger"], conditions=conditions,
                    actions=actions, priority=data["priority"], starts_at=data.get("starts_at"),
                    ends_at=data.get("ends_at"), stop_further=data.get("stop_further", False))


def _check_overlap(program: Program, rule: Rule | None, form: RuleForm) -> None:
    """Refuse a rule saved as live that overlaps live rules, unless confirmed: one going live, or a live one whose
    reward changes (`rule_activate` asks the same of the status buttons)."""
    data = form.cleaned_data
    if data.get("status") != RuleStatus.ACTIVE or data.get("confirm_overlap"):
        return
    view = _view(rule, data)
    if rule is None or rule.status != RuleStatus.ACTIVE or rule_view(rule) != view:
        rule_overlap_check(program, view)


def _save_rule(request, program: Program, rule: Rule | None):
    form = RuleForm(request.POST, program=program, rule=rule)
    if form.is_valid():
        try:
            _check_overlap(program, rule, form)
            saved = rule_save(actor=request.user, program=program, rule=rule, data=form.service_data())
        except DomainError as exc:
            if rule is not None:
                rule.refresh_from_db()
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Earn rule %(name)s saved.") % {"name": saved.name})
            return redirect("loyalty:design_rule_edit", public_id=saved.public_id)
    return _editor(request, program, form, rule)


@require_capability(CAPABILITY)
def rule_create(request, program: str):
    """Start a rule: choose a ready-made template or a blank rule; a posted editor form creates the rule."""
    program = _program(program)
    if request.method == "POST":
        return _save_rule(request, program, None)
    if request.GET.get("blank"):
        return _editor(request, program, RuleForm(program=program), None)
    coupon_templates = list(program.coupon_templates.filter(is_active=True).order_by("name"))
    names = _ref_names(program)
    cards = [{"template": t, "conditions": _describe(list(t.conditions), CONDITIONS, names),
              "actions": _describe(list(t.actions), ACTIONS, names)}
             for t in RULE_TEMPLATES]
    return _page(request, "loyalty/design_rule_new.html", program, "rules",
                 {"cards": cards, "coupon_templates": coupon_templates})


@require_capability(CAPABILITY)
@require_POST
def rule_from_template_view(request, program: str):
    """Create a draft rule from a ready-made template and open it in the editor."""
    program = _program(program)
    key = request.POST.get("template", "")
    coupon = None
    if request.POST.get("coupon_template"):
        coupon = program.coupon_templates.filter(public_id=request.POST["coupon_template"]).first()
    try:
        rule = rule_from_template(actor=request.user, program=program, key=key, coupon_template=coupon)
    except KeyError:
        messages.error(request, _("Unknown template."))
    except DomainError as exc:
        if exc.field and exc.field.endswith(".template"):
            messages.error(request, _("Choose the coupon this rule issues."))
        else:
            messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Draft rule %(name)s created from the template: check it, preview it and make "
                                    "it live.") % {"name": rule.name})
        return redirect("loyalty:design_rule_edit", public_id=rule.public_id)
    return redirect("loyalty:design_rule_create", program=program.public_id)


def _rule(public_id: str) -> Rule:
    return get_object_or_404(Rule.objects.select_related("program"), public_id=public_id)


@require_capability(CAPABILITY)
def rule_edit(request, public_id: str):
    """The rule editor: change, preview, activate or pause a rule."""
    rule = _rule(public_id)
    if request.method == "POST":
        return _save_rule(request, rule.program, rule)
    return _editor(request, rule.program, RuleForm(program=rule.program, rule=rule), rule)


@require_capability(CAPABILITY)
@require_POST
def rule_status(request, public_id: str):
    """Make a rule live, pause it or put it back to draft."""
    rule = _rule(public_id)
    status = request.POST.get("status", "")
    try:
        rule = rule_activate(actor=request.user, rule=rule, status=status,
                             confirm_overlap=request.POST.get("confirm_overlap") == "1")
    except DomainError as exc:
        if exc.code == LoyaltyCode.RULE_OVERLAP:  # the editor, with the warning and a button to confirm
            return _editor(request, rule.program, RuleForm(program=rule.program, rule=rule), rule,
                           overlap=str(exc.message), status=409)
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("%(name)s is now: %(status)s.") % {"name": rule.name,
                                                                       "status": rule.get_status_display()})
    return redirect("loyalty:design_rule_edit", public_id=rule.public_id)


@require_capability(CAPABILITY)
@require_POST
def rule_delete_view(request, public_id: str):
    """Delete a draft rule (a rule that went live is paused instead)."""
    rule = _rule(public_id)
    try:
        rule_delete(actor=request.user, rule=rule)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("loyalty:design_rule_edit", public_id=rule.public_id)
    messages.success(request, _("The draft rule %(name)s is deleted.") % {"name": rule.name})
    return redirect("loyalty:design_rules", program=rule.program.public_id)


@require_capability(CAPABILITY)
def rule_row(request, program: str):
    """Answer htmx with one condition or action row: a new one ("add"), or one whose kind was changed."""
    program = _program(program)
    data = request.POST if request.method == "POST" else request.GET
    group = data.get("group", "cond")
    if group not in GROUPS:
        group = "cond"
    index = data.get("index", "")
    if index.isdigit():
        number = int(index)
        rows = {n: (kind, params) for n, kind, params in posted_rows(data, group)}
        kind, params = rows.get(number, (data.get("kind", ""), {}))
    else:
        number, kind, params = next_row_number(data, group), data.get("kind", ""), {}
    row = item_row(program, group, number, kind, params)
    return render(request, "loyalty/_rule_row.html", {"row": row, "weekdays": WEEKDAYS,
                                                       "row_url": reverse("loyalty:design_rule_row",
                                                                          args=[program.public_id])})


@require_capability(CAPABILITY)
@require_POST
def rule_preview(request, program: str):
    """Show what the rule in the editor would have given over past events, without saving it."""
    program = _program(program)
    rule = program.rules.filter(public_id=request.POST.get("rule", "")).first() if request.POST.get("rule") else None
    form = RuleForm(request.POST, program=program, rule=rule)
    window = PreviewForm(request.POST)
    preview, error = None, ""
    form.is_valid()
    if form.blocks_preview() or not window.is_valid():
        error = " ".join([*form.error_lines(), *(" ".join(e) for e in window.errors.values())])
    else:
        data = form.cleaned_data
        try:
            view = _view(rule, data)
            preview = preview_rule(program, view, window.cleaned_data["since"], window.cleaned_data["until"],
                                   cap_member_day=data.get("cap_member_day"), cap_total=data.get("cap_total"))
        except DomainError as exc:
            form.add_domain_error(exc)
            error = " ".join(form.error_lines()) if exc.field and exc.field.split(".")[0] in (
                "conditions", "actions") else str(exc.message)
    context = {"preview": preview, "preview_error": error, "program": program}
    if request.htmx:
        return render(request, "loyalty/_rule_preview.html", context)
    return _editor(request, program, form, rule, preview=preview, preview_error=error, preview_form=window)


urlpatterns = [
    path("design/program/new/", program_create, name="design_program_create"),
    path("design/program/<str:program>/", program_edit, name="design_program_edit"),
    path("design/program/<str:program>/tiers/", tier_list, name="design_tiers"),
    path("design/program/<str:program>/tiers/new/", tier_create, name="design_tier_create"),
    path("design/program/<str:program>/tiers/<int:pk>/", tier_edit, name="design_tier_edit"),
    path("design/program/<str:program>/rules/", rule_list, name="design_rules"),
    path("design/program/<str:program>/rules/new/", rule_create, name="design_rule_create"),
    path("design/program/<str:program>/rules/from-template/", rule_from_template_view,
         name="design_rule_from_template"),
    path("design/program/<str:program>/rules/row/", rule_row, name="design_rule_row"),
    path("design/program/<str:program>/rules/preview/", rule_preview, name="design_rule_preview"),
    path("design/rules/<str:public_id>/", rule_edit, name="design_rule_edit"),
    path("design/rules/<str:public_id>/status/", rule_status, name="design_rule_status"),
    path("design/rules/<str:public_id>/delete/", rule_delete_view, name="design_rule_delete"),
    path("design/program/<str:program>/coupons/", coupon_list, name="design_coupons"),
    path("design/program/<str:program>/coupons/new/", coupon_create, name="design_coupon_create"),
    path("design/coupons/<str:public_id>/", coupon_edit, name="design_coupon_edit"),
    path("design/program/<str:program>/rewards/", reward_list, name="design_rewards"),
    path("design/program/<str:program>/rewards/new/", reward_create, name="design_reward_create"),
    path("design/rewards/<str:public_id>/", reward_edit, name="design_reward_edit"),
]

"""The member club's overview: the program, whether it reaches its objective, and what it is made of."""

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.tasks import task_send
from fidelis.loyalty.models import Coupon, CouponStatus, Program, Rule
from fidelis.loyalty.selectors import program_default, program_kpis
from fidelis.loyalty.tasks import backfill_orders


@require_capability("loyalty.view")
def program_overview(request):
    program = None
    if request.GET.get("program"):
        program = Program.objects.filter(public_id=request.GET["program"]).first()
    program = program or program_default() or Program.objects.order_by("pk").first()
    can_design = has_capability(request.user, "loyalty.design")
    if program is None:
        if can_design:
            return redirect("loyalty:design_program_create")
        return render(request, "loyalty/program_empty.html")
    kpis = program_kpis(program)
    rules = list(program.rules.annotate(given=Sum("entries__points")).order_by("-status", "-priority", "id"))
    templates = list(program.coupon_templates.annotate(
        used=Count("coupons", filter=Q(coupons__status=CouponStatus.REDEEMED))).order_by("name"))
    rewards = list(program.rewards.select_related("min_tier", "coupon_template").annotate(
        redeemed=Count("redemptions")))
    tier_max = max([n for _t, n in kpis.tiers] + [1])
    return render(request, "loyalty/program.html", {
        "program": program, "programs": Program.objects.order_by("name"), "kpis": kpis, "rules": rules,
        "coupon_templates": templates, "rewards": rewards, "can_design": can_design,
        "can_backfill": has_capability(request.user, "loyalty.adjust"),
        "tiers": [(t, n, round(n * 100 / tier_max)) for t, n in kpis.tiers],
        "live_rules": sum(1 for r in rules if r.status == "active"),
        "coupons_active": Coupon.objects.filter(template__program=program, status=CouponStatus.ACTIVE).count(),
        "rule_model": Rule,
    })


@require_capability("loyalty.adjust")
@require_POST
def program_backfill(request, public_id: str):
    """Apply the program's historical orders to the ledger (a Celery task; at once without a broker)."""
    program = get_object_or_404(Program, public_id=public_id)
    from fidelis.config.celery import app

    if app.conf.task_always_eager:  # no broker: the task runs in this request
        result = backfill_orders.delay(program.pk, request.user.pk).get()
        messages.success(request, _("%(orders)s historical orders applied: %(points)s points to %(members)s members, "
                                    "%(tiers)s tier upgrades.") % {
            "orders": result["applied"], "points": result["points"], "members": result["members"],
            "tiers": result["tier_upgrades"]})
    elif task_send(backfill_orders, program.pk, request.user.pk):
        messages.success(request, _("The historical orders are being applied to the ledger. The audit log shows each "
                                    "part as it is done."))
    else:
        messages.error(request, _("The historical orders could not be handed to the workers now; try again later."))
    return redirect(f"{reverse('loyalty:program')}?program={program.public_id}")


urlpatterns = [
    path("", program_overview, name="program"),
    path("<str:public_id>/backfill/", program_backfill, name="program_backfill"),
]

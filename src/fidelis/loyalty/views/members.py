"""Members and their points in the UI: the list, the member page, enrolment, adjustments, rewards and coupons.
The member-club card of the customer 360° page is in `fidelis.loyalty.panels`."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.customers.normalize import query_digits
from fidelis.customers.selectors import customer_get_for_user
from fidelis.loyalty import services
from fidelis.loyalty.cards import KINDS, card_svg
from fidelis.loyalty.models import CouponTemplate, EntryKind, Member, Reward, Tier
from fidelis.loyalty.selectors import (
    expiring_soon,
    member_coupons,
    member_entries,
    member_get_for_user,
    member_progress,
    member_visible_qs,
    program_default,
)

PAGE_SIZE = 50
ENTRY_PAGE = 20


class AdjustForm(forms.Form):
    points = forms.IntegerField(label=gettext_lazy("points"), help_text=gettext_lazy("Negative to take away."))
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=200)


@require_capability("loyalty.view")
def member_list(request):
    program = program_default()
    qs = member_visible_qs(request.user)
    if program is not None:
        qs = qs.filter(program=program)
    q = request.GET.get("q", "").strip()
    if q:
        digits = query_digits(q)
        match = Q(number=q.upper()) | Q(card_code=q.upper()) | Q(customer__name__startswith=q)
        if len(digits) >= 4:
            match |= Q(customer__phone_digits__endswith=digits) if len(digits) < 11 else Q(
                customer__phone_digits=digits)
        qs = qs.filter(match)
    tier = request.GET.get("tier", "")
    if tier.isdigit():
        qs = qs.filter(tier_id=int(tier))
    page = Paginator(qs.order_by("-joined_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "loyalty/member_list.html", {
        "page": page, "members": page.object_list, "q": q, "tier": tier, "program": program,
        "tiers": Tier.objects.filter(program=program) if program else [],
    })


def _member_context(request, member: Member) -> dict:
    points, expires_at = expiring_soon(member)
    user = request.user
    return {
        "member": member, "customer": member.customer, "program": member.program,
        "progress": member_progress(member), "coupons": member_coupons(member),
        "entries": member_entries(member, limit=ENTRY_PAGE), "entry_page": ENTRY_PAGE,
        "expiring_points": points, "expiring_at": expires_at,
        "can_adjust": has_capability(user, "loyalty.adjust"),
        "can_operate": has_capability(user, "loyalty.operate"),
        "can_issue": has_capability(user, "loyalty.design"),
        "rewards": Reward.objects.filter(program=member.program, is_active=True).select_related("min_tier"),
        "coupon_templates": CouponTemplate.objects.filter(program=member.program, is_active=True),
        "adjust_form": AdjustForm(), "kinds": EntryKind,
    }


@require_capability("loyalty.view")
def member_detail(request, public_id: str):
    member = member_get_for_user(request.user, public_id=public_id)
    return render(request, "loyalty/member_detail.html", _member_context(request, member))


@require_capability("loyalty.view")
def member_entry_page(request, public_id: str):
    """The next page of the points history (htmx "load more")."""
    member = member_get_for_user(request.user, public_id=public_id)
    before = request.GET.get("before", "")
    entries = member_entries(member, before_id=int(before) if before.isdigit() else None, limit=ENTRY_PAGE)
    return render(request, "loyalty/_entries.html", {"member": member, "entries": entries, "entry_page": ENTRY_PAGE})


@require_POST
@require_capability("loyalty.operate")
def member_enrol(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    program = program_default()
    if program is None:
        messages.error(request, _("No loyalty program is active."))
        return redirect("customers:detail", public_id=customer.public_id)
    try:
        member, created = services.member_enrol(actor=request.user, program=program, customer=customer,
                                                channel=request.POST.get("channel", "store")[:16])
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("customers:detail", public_id=customer.public_id)
    if created:
        messages.success(request, _("%(name)s joined %(program)s as member %(number)s.")
                         % {"name": customer.name, "program": program.name, "number": member.number})
    return redirect("loyalty:member_detail", public_id=member.public_id)


@require_POST
@require_capability("loyalty.adjust")
def member_adjust(request, public_id: str):
    member = member_get_for_user(request.user, public_id=public_id)
    form = AdjustForm(request.POST)
    if form.is_valid():
        try:
            services.points_adjust(actor=request.user, member=member, points=form.cleaned_data["points"],
                                   reason=form.cleaned_data["reason"])
            messages.success(request, _("Points adjusted."))
            return redirect("loyalty:member_detail", public_id=member.public_id)
        except DomainError as exc:
            form_error(form, exc)
    member.refresh_from_db()
    context = _member_context(request, member)
    context["adjust_form"] = form
    return render(request, "loyalty/member_detail.html", context, status=400)


@require_POST
@require_capability("loyalty.operate")
def member_redeem(request, public_id: str):
    member = member_get_for_user(request.user, public_id=public_id)
    reward = Reward.objects.filter(program=member.program, public_id=request.POST.get("reward", "")).first()
    if reward is None:
        messages.error(request, _("Choose a reward."))
    else:
        try:
            redemption = services.reward_redeem(actor=request.user, member=member, reward=reward)
            note = _("%(reward)s redeemed for %(points)s points.") % {"reward": reward.name,
                                                                     "points": reward.points_cost}
            if redemption.coupon:
                note += " " + _("Coupon code: %(code)s") % {"code": redemption.coupon.code}
            messages.success(request, note)
        except DomainError as exc:
            messages.error(request, str(exc.message))
    return redirect("loyalty:member_detail", public_id=member.public_id)


@require_POST
@require_capability("loyalty.design")
def member_coupon_issue(request, public_id: str):
    member = member_get_for_user(request.user, public_id=public_id)
    template = CouponTemplate.objects.filter(program=member.program, public_id=request.POST.get("template", "")).first()
    if template is None:
        messages.error(request, _("Choose a coupon."))
    else:
        try:
            coupon = services.coupon_issue(actor=request.user, template=template, customer=member.customer)
            messages.success(request, _("Coupon issued: %(code)s") % {"code": coupon.code})
        except DomainError as exc:
            messages.error(request, str(exc.message))
    return redirect("loyalty:member_detail", public_id=member.public_id)


@require_capability("loyalty.view")
def member_card(request, public_id: str):
    """The member card, to show on a phone at the till or to print."""
    member = member_get_for_user(request.user, public_id=public_id)
    return render(request, "loyalty/member_card.html", {"member": member, "customer": member.customer,
                                                        "program": member.program})


@require_capability("loyalty.view")
def member_card_symbol(request, public_id: str, kind: str):
    """The card code as a QR code or a Code 128 barcode (SVG)."""
    member = member_get_for_user(request.user, public_id=public_id)
    if kind not in KINDS:
        raise Http404(_("No such card symbol."))
    response = HttpResponse(card_svg(member.card_code, kind), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns = [
    path("members/", member_list, name="members"),
    path("members/join/<str:public_id>/", member_enrol, name="member_enrol"),
    path("members/<str:public_id>/", member_detail, name="member_detail"),
    path("members/<str:public_id>/entries/", member_entry_page, name="member_entries"),
    path("members/<str:public_id>/card/", member_card, name="member_card"),
    path("members/<str:public_id>/card/<str:kind>.svg", member_card_symbol, name="member_card_symbol"),
    path("members/<str:public_id>/adjust/", member_adjust, name="member_adjust"),
    path("members/<str:public_id>/redeem/", member_redeem, name="member_redeem"),
    path("members/<str:public_id>/coupons/", member_coupon_issue, name="member_coupon_issue"),
]

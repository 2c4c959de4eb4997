"""The clean-up list: records that need attention, counted per reason, and the bulk actions on them."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.models import User
from fidelis.accounts.permissions import CAPABILITIES, has_capability
from fidelis.core.errors import DomainError
from fidelis.customers import cleanup
from fidelis.customers.selectors import customer_get_for_user

PAGE_SIZE = 50


def _owners():
    """Return the active users who may look after customers: the choices of "assign owner"."""
    return User.objects.filter(is_active=True, role__in=CAPABILITIES["customer.change"]).order_by("username")


def _act(request) -> str:
    """Run the bulk action the list's form asks for; return the message that says what was done."""
    action = request.POST.get("action", "")
    customers = cleanup.cleanup_customers_for_ids(request.user, request.POST.getlist("customers"))
    if action == "archive":
        n = cleanup.customers_archive(actor=request.user, customers=customers)
        return ngettext("%(n)s record archived.", "%(n)s records archived.", n) % {"n": n}
    if action == "assign":
        raw = request.POST.get("owner", "").strip()
        owner = _owners().filter(pk=raw).first() if raw.isdigit() else None
        n = cleanup.customers_assign(actor=request.user, customers=customers, owner=owner)
        return ngettext("%(n)s record given to %(owner)s.", "%(n)s records given to %(owner)s.", n) % {
            "n": n, "owner": owner}
    if action == "erase":
        n = cleanup.customers_erase(actor=request.user, customers=customers, reason=request.POST.get("reason", ""))
        return ngettext("The personal data of %(n)s record was erased.",
                        "The personal data of %(n)s records was erased.", n) % {"n": n}
    raise DomainError(_("Choose what to do with the chosen records."), field="action")


@require_capability("customer.cleanup")
def cleanup_list(request):
    """List the records that need attention, filtered by reason, with bulk archive, assign owner and erase."""
    if request.method == "POST":
        try:
            messages.success(request, _act(request))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect(request.get_full_path())
    errors = []
    try:
        years = cleanup.cleanup_years(request.GET.get("years"))
    except DomainError as exc:
        errors.append(exc.message)
        years = cleanup.cleanup_years()
    reason = request.GET.get("reason", "").strip()
    if reason and reason not in cleanup.CleanupReason.values:
        errors.append(_("Unknown reason: %(reason)s") % {"reason": reason})
        reason = ""
    counts = cleanup.cleanup_counts(request.user, years=years)
    paginator = Paginator(cleanup.cleanup_list(request.user, years=years, reason=reason), PAGE_SIZE)
    paginator.count = counts[reason or "total"]  # counted above, in the same query as the other reasons
    page = paginator.get_page(request.GET.get("page"))
    rows = [{"customer": c, "reasons": cleanup.cleanup_reasons_of(c)} for c in page.object_list]
    query = {k: v for k, v in (("reason", reason), ("years", request.GET.get("years", "") if not errors else ""))
             if v}
    return render(request, "customers/cleanup_list.html", {
        "rows": rows, "page": page, "counts": counts, "years": years, "reason": reason, "errors": errors,
        "reasons": [{"value": value, "label": label, "n": counts[value]}
                    for value, label in cleanup.CleanupReason.choices],
        "years_query": urlencode({"years": query["years"]}) if "years" in query else "",
        "owners": _owners(), "can_erase": has_capability(request.user, "customer.privacy"),
        "recent": cleanup.cleanup_recent_actions(request.user),
    })


@require_capability("customer.cleanup")
@require_POST
def customer_restore(request, public_id: str):
    """Bring an archived customer back to the working lists, from the 360° page."""
    customer = customer_get_for_user(request.user, public_id)
    try:
        cleanup.customer_restore(actor=request.user, customer=customer)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The record is back in the working lists."))
    return redirect("customers:detail", public_id=customer.public_id)


@require_capability("customer.cleanup")
def cleanup_tile(request):
    """Return the home page's tile: how many records need attention (one aggregate query)."""
    counts = cleanup.cleanup_counts(request.user, years=cleanup.cleanup_years())
    return render(request, "customers/_cleanup_tile.html", {"total": counts["total"]})

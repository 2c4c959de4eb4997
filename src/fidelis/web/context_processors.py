"""Navigation entries shown to the signed-in user, by capability."""

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.permissions import role_has, signed_in

# (url name, label, capability, icon, other view names under the same entry)
NAV = [
    ("web:home", _("Home"), "customer.view", "home", ()),
    ("customers:list", _("Customers"), "customer.view", "customers",
     ("customers:create", "customers:detail", "customers:edit", "customers:search")),
    ("loyalty:program", _("Member club"), "loyalty.view", "star", ("loyalty:*",)),
    ("sales:orders", _("Orders"), "order.view", "cart", ("sales:order*", "sales:product*", "sales:import*")),
    ("pipeline:board", _("Pipeline"), "opportunity.view", "funnel",
     ("pipeline:board*", "pipeline:pipeline*", "pipeline:opportunit*")),
    ("pipeline:contracts", _("Contracts"), "contract.view", "file", ("pipeline:contract*",)),
    ("work:tasks", _("Tasks"), "task.view", "check", ("work:*",)),
    ("feedback:touchpoints", _("Touchpoints"), "touchpoint.view", "touchpoint", ("feedback:touchpoint*",)),
    ("sales:report_sales", _("Sales reports"), "report.sales", "chart", ("sales:report*", "pipeline:report")),
    ("customers:import_start", _("Import"), "customer.import", "import", ("customers:import_detail",)),
    ("customers:duplicates", _("Duplicates"), "customer.merge", "duplicates",
     ("customers:duplicate_review", "customers:merge_detail")),
    ("customers:cleanup", _("Clean-up"), "customer.cleanup", "check", ()),
    ("accounts:users", _("Users"), "user.manage", "users", ("accounts:user_edit",)),
    ("accounts:tokens", _("API tokens"), "token.manage", "key", ()),
    ("events:webhooks", _("Webhooks"), "webhook.manage", "globe", ("events:webhook_edit",)),
    ("accounts:audit", _("Audit log"), "audit.view", "audit", ()),
]


def _url(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def _is_active(current: str, url_name: str, also: tuple[str, ...]) -> bool:
    return current == url_name or current in also or any(
        a.endswith("*") and current.startswith(a[:-1]) for a in also)


def _current(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.view_name if match else ""


def nav_items(request) -> list[dict]:
    """Return the navigation entries the user's role may use, the current one marked active."""
    user = getattr(request, "user", None)
    if not signed_in(user):
        return []
    role, current = user.effective_role, _current(request)
    return [{"url": url, "label": label, "name": url_name, "icon": icon,
             "active": _is_active(current, url_name, also)}
            for url_name, label, capability, icon, also in NAV
            if role_has(role, capability) and (url := _url(url_name)) is not None]


def navigation(request):
    """Offer the navigation entries to templates, worked out only if a template shows them (not for fragments)."""
    return {"nav_items": SimpleLazyObject(lambda: nav_items(request))}

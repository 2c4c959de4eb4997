"""Navigation entries shown to the signed-in user, by capability."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.permissions import has_capability

# (url name, label, capability, icon, other view names under the same entry)
NAV = [
    ("web:home", _("Home"), "customer.view", "home", ()),
    ("customers:list", _("Customers"), "customer.view", "customers",
     ("customers:create", "customers:detail", "customers:edit", "customers:search")),
    ("loyalty:program", _("Member club"), "loyalty.view", "star", ("loyalty:*",)),
    ("sales:orders", _("Orders"), "order.view", "cart", ("sales:order*", "sales:product*", "sales:import*")),
    ("sales:pipeline", _("Pipeline"), "opportunity.view", "funnel", ("sales:pipeline*", "sales:opportunit*")),
    ("sales:contracts", _("Contracts"), "contract.view", "file", ("sales:contract*",)),
    ("work:tasks", _("Tasks"), "task.view", "check", ("work:*",)),
    ("sales:report_sales", _("Sales reports"), "report.sales", "chart", ("sales:report*",)),
    ("customers:import_start", _("Import"), "customer.import", "import", ("customers:import_detail",)),
    ("customers:duplicates", _("Duplicates"), "customer.merge", "duplicates",
     ("customers:duplicate_review", "customers:merge_detail")),
    ("accounts:users", _("Users"), "user.manage", "users", ("accounts:user_edit",)),
    ("accounts:tokens", _("API tokens"), "token.manage", "key", ()),
    ("events:webhooks", _("Webhooks"), "webhook.manage", "globe", ("events:webhook_edit",)),
    ("accounts:audit", _("Audit log"), "audit.view", "audit", ()),
]


def navigation(request):
    """Return the navigation entries the user's role may use, the current one marked active."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = []
    for url_name, label, capability, icon, also in NAV:
        if not has_capability(user, capability):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "name": url_name, "icon": icon,
                      "active": current == url_name or current in also
                      or any(a.endswith("*") and current.startswith(a[:-1]) for a in also)})
    return {"nav_items": items}

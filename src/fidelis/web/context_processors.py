"""Navigation entries shown to the signed-in user, by capability."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.permissions import has_capability

NAV = [
    ("web:home", _("Home"), "customer.view"),
    ("customers:list", _("Customers"), "customer.view"),
    ("customers:import_start", _("Import"), "customer.import"),
    ("customers:duplicates", _("Duplicates"), "customer.merge"),
    ("accounts:users", _("Users"), "user.manage"),
    ("accounts:audit", _("Audit log"), "audit.view"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for url_name, label, capability in NAV:
        if has_capability(user, capability):
            try:
                items.append({"url": reverse(url_name), "label": label, "name": url_name})
            except NoReverseMatch:
                continue
    return {"nav_items": items}

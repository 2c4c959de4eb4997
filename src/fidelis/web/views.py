"""The home page: the loyalty funnel, the archive at a glance, recent events."""

from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render

from fidelis.accounts.permissions import sees_all_customers
from fidelis.customers.models import Category, LifecycleStage, ValueTier
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.models import Event
from fidelis.web.access import require_capability


@require_capability("customer.view")
def home(request):
    visible = customer_visible_qs(request.user)
    by_stage = dict(visible.values_list("lifecycle_stage").annotate(n=Count("id")).order_by())
    by_category = dict(visible.values_list("category").annotate(n=Count("id")).order_by())
    by_tier = dict(visible.values_list("value_tier").annotate(n=Count("id")).order_by())
    total = sum(by_stage.values())
    top = max(by_stage.values(), default=0) or 1
    funnel = [(label, by_stage.get(value, 0), round(100 * by_stage.get(value, 0) / top))
              for value, label in LifecycleStage.choices]
    events = Event.objects.all() if sees_all_customers(request.user) else Event.objects.filter(customer__in=visible)
    recent = events.select_related("customer").order_by("-occurred_at", "-id")[:12]
    context = {
        "total": total, "funnel": funnel,
        "categories": [(label, by_category.get(value, 0)) for value, label in Category.choices],
        "tiers": [(label, by_tier.get(value, 0)) for value, label in ValueTier.choices],
        "recent": recent,
    }
    return render(request, "web/home.html", context)


def healthz(request):
    """Answer with the database reachable: the trivial view benchmarks compare against."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})

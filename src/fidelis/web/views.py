"""The home page: the user's day (tasks); the loyalty funnel, the archive at a glance and recent events below it."""

from collections import Counter

from django.db import connection
from django.db.models import Count
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability, sees_all_customers
from fidelis.customers.models import Category, LifecycleStage, ValueTier
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.models import Event
from fidelis.work.forms import SnoozeForm
from fidelis.work.selectors import my_day

RECENT_EVENTS = 12


@require_capability("customer.view")
def home(request):
    """Show the user's day: open tasks overdue, today and in the next 7 days. The archive at a glance follows
    from `dashboard`, loaded by htmx, so that the page a user opens many times a day costs one indexed query."""
    context = {
        # "My day": one indexed query for the user's open tasks up to a week ahead, customers joined in.
        "my_day": my_day(request.user) if has_capability(request.user, "task.view") else None,
        "can_change_tasks": has_capability(request.user, "task.change"),
        "snooze_choices": SnoozeForm.CHOICES,
        "can_clean_up": has_capability(request.user, "customer.cleanup"),
    }
    return render(request, "web/home.html", context)


@require_capability("customer.view")
def dashboard(request):
    """Return the customers the user sees by lifecycle stage, category and value tier, and the latest events."""
    visible = customer_visible_qs(request.user)
    # One GROUP BY over the three classifications (at most 6 × 3 × 3 rows) instead of a query per chart.
    groups = visible.order_by().values_list("lifecycle_stage", "category", "value_tier").annotate(n=Count("id"))
    by_stage, by_category, by_tier = Counter(), Counter(), Counter()
    for stage, category, tier, n in groups:
        by_stage[stage] += n
        by_category[category] += n
        by_tier[tier] += n
    total = sum(by_stage.values())
    top = max(by_stage.values(), default=0) or 1
    funnel = [{"value": value, "label": label, "n": by_stage[value], "width": round(100 * by_stage[value] / top)}
              for value, label in LifecycleStage.choices]
    tiers = [{"value": value, "label": label, "n": by_tier[value],
              "share": round(100 * by_tier[value] / total, 1) if total else 0}
             for value, label in ValueTier.choices]
    events = Event.objects.all() if sees_all_customers(request.user) else Event.objects.filter(customer__in=visible)
    recent = events.select_related("customer").order_by("-occurred_at", "-id")[:RECENT_EVENTS]
    context = {
        "total": total,
        "funnel": funnel,
        "categories": [{"value": value, "label": label, "n": by_category[value]} for value, label in Category.choices],
        "tiers": tiers,
        "recent": recent,
    }
    return render(request, "web/_dashboard.html", context)


def healthz(request):
    """Answer with the database reachable: the trivial view benchmarks compare against."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def favicon(request):
    """Send the browsers and tools that ask for /favicon.ico whatever the page links to the icon (SVG)."""
    return HttpResponsePermanentRedirect(static("web/favicon.svg"))

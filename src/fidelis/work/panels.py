"""The tasks card of the customer 360° page (`fidelis.customers.panels`)."""

from django.urls import reverse

from fidelis.accounts.permissions import has_capability
from fidelis.customers.panels import customer_panel
from fidelis.work.forms import SnoozeForm
from fidelis.work.selectors import customer_tasks, sees_all_tasks

PANEL_SIZE = 8


@customer_panel(template="work/_customer_panel.html", capability="task.view", order=40)
def tasks_panel(request, customer) -> dict:
    """Return the customer's open tasks the user sees, soonest first."""
    tasks = customer_tasks(request.user, customer, limit=PANEL_SIZE + 1)
    return {"customer": customer, "tasks": tasks[:PANEL_SIZE], "more": len(tasks) > PANEL_SIZE,
            "can_change": has_capability(request.user, "task.change"), "snooze_choices": SnoozeForm.CHOICES,
            "can_team": sees_all_tasks(request.user),
            "next": reverse("customers:detail", args=[customer.public_id])}

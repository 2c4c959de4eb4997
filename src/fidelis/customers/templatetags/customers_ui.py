"""Parts of the 360° page, each rendered by its own small template: timeline rows, profile cards, the lifecycle
funnel and the classification badges."""

from django import template

from fidelis.customers.models import LifecycleStage
from fidelis.customers.selectors import customer_lifecycle_funnel

register = template.Library()


@register.inclusion_tag("customers/_timeline_items.html")
def timeline_items(events) -> dict:
    """Render the <li> of each timeline event: time, type, amount, summary, channel, touchpoint and actor."""
    return {"events": events}


@register.inclusion_tag("customers/_profile_cards.html")
def profile_cards(customer, mask: bool) -> dict:
    """Render the profile cards: basic data, contact data, company or employer, personal notes; with `mask`,
    phones and e-mail partly hidden and not links."""
    return {"customer": customer, "mask": mask}


def _stage_index(stage: str) -> int:
    return LifecycleStage.values.index(stage) if stage in LifecycleStage.values else -1


def _funnel(customer) -> dict:
    """Return the customer's funnel (`customer_lifecycle_funnel`), read once for the funnel and the badges."""
    if not hasattr(customer, "_lifecycle_funnel"):
        customer._lifecycle_funnel = customer_lifecycle_funnel(customer)
    return customer._lifecycle_funnel


@register.inclusion_tag("customers/_lifecycle_funnel.html", takes_context=True)
def lifecycle_funnel(context, stage: str) -> dict:
    """Render the lifecycle funnel with the customer's stage marked. On a customer's page (a `customer` of that
    stage in the context) a stage proved by an event is done only when the customer has the event; otherwise
    the stages before the given one are done."""
    customer = context.get("customer")
    if customer is not None and getattr(customer, "lifecycle_stage", None) == stage:
        return {"steps": _funnel(customer)["steps"]}
    index = _stage_index(stage)
    return {"steps": [{"value": value, "label": label,
                       "state": "done" if i < index else "current" if i == index else ""}
                      for i, (value, label) in enumerate(LifecycleStage.choices)]}


@register.inclusion_tag("customers/_classification.html")
def classification(customer) -> dict:
    """Render the customer's category, value tier and lifecycle stage as badges, with the stage's position and
    the fact that proves it."""
    return {"customer": customer, "position": _stage_index(customer.lifecycle_stage) + 1,
            "stages": len(LifecycleStage.values), "reason": _funnel(customer)["reason"]}

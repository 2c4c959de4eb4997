"""Parts of the 360° page, each rendered by its own small template: timeline rows, profile cards, the lifecycle
funnel and the classification badges."""

from django import template

from fidelis.customers.models import LifecycleStage

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


@register.inclusion_tag("customers/_lifecycle_funnel.html")
def lifecycle_funnel(stage: str, funnel: dict | None = None) -> dict:
    """Render the lifecycle funnel with the stage marked: with a customer's `funnel`
    (`selectors.customer_lifecycle_funnel`) a stage proved by an event is done only when the customer has the event;
    without, the stages before the given one are done."""
    if funnel is not None:
        return {"steps": funnel["steps"]}
    index = _stage_index(stage)
    return {"steps": [{"value": value, "label": label,
                       "state": "done" if i < index else "current" if i == index else ""}
                      for i, (value, label) in enumerate(LifecycleStage.choices)]}


@register.inclusion_tag("customers/_classification.html")
def classification(customer, funnel: dict | None = None) -> dict:
    """Render the customer's category, value tier and lifecycle stage as badges, with the stage's position and,
    given the customer's `funnel`, the fact that proves it."""
    return {"customer": customer, "position": _stage_index(customer.lifecycle_stage) + 1,
            "stages": len(LifecycleStage.values), "reason": funnel["reason"] if funnel else None}

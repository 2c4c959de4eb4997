"""The timeline sentences of opportunities and contracts (`events.lines`)."""

from django.utils.translation import gettext as _

from fidelis.core.numbers import money
from fidelis.events.lines import day, is_amount, line_for
from fidelis.pipeline.models import LostReason


@line_for("opportunity.created")
def created_line(payload: dict, event) -> str:
    return _("Opportunity: %(title)s (%(stage)s)") % {"title": payload["title"], "stage": payload["stage"]}


@line_for("opportunity.stage_changed")
def moved_line(payload: dict, event) -> str:
    return _("%(title)s: %(from)s → %(to)s") % {"title": payload["title"], "from": payload["from_stage"],
                                                 "to": payload["stage"]}


@line_for("opportunity.reassigned")
def reassigned_line(payload: dict, event) -> str:
    return _("Opportunity %(title)s now with %(owner)s") % {"title": payload["title"], "owner": payload.get("owner_name") or payload["owner"]}


@line_for("opportunity.won")
def won_line(payload: dict, event) -> str:
    amount = payload.get("expected_amount")
    if is_amount(amount):
        return _("Won: %(title)s, %(amount)s") % {"title": payload["title"], "amount": money(amount)}
    return _("Won: %(title)s") % {"title": payload["title"]}


@line_for("opportunity.lost")
def lost_line(payload: dict, event) -> str:
    reason = payload.get("lost_reason") or ""
    if not reason:
        return _("Lost: %(title)s") % {"title": payload["title"]}
    label = LostReason(reason).label if reason in LostReason.values else reason
    return _("Lost: %(title)s (%(reason)s)") % {"title": payload["title"], "reason": label}


@line_for("contract.signed", "contract.renewed")
def contract_line(payload: dict, event) -> str:
    return _("Contract %(number)s, %(amount)s, %(start)s to %(end)s") % {
        "number": payload["number"], "amount": money(payload["amount"]), "start": day(payload["start_date"]),
        "end": day(payload["end_date"])}


@line_for("contract.terminated")
def terminated_line(payload: dict, event) -> str:
    return _("Contract %(number)s: %(reason)s") % {"number": payload["number"], "reason": payload["reason"]}


@line_for("contract.expiring")
def expiring_line(payload: dict, event) -> str:
    return _("Contract %(number)s ends on %(date)s") % {"number": payload["number"],
                                                        "date": day(payload["end_date"])}

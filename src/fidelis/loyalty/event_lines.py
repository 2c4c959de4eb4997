"""The timeline sentences of the member club: joining, points, tiers and coupons (`events.lines`)."""

from django.utils.translation import gettext as _

from fidelis.events.lines import day, line_for, points
from fidelis.loyalty.models import EntryKind


def _unit(payload: dict) -> str:
    """Return what the program calls its points, as the program names them (events of old: "points")."""
    return payload.get("unit") or _("points")


@line_for("member.joined")
def joined_line(payload: dict, event) -> str | None:
    number, program = payload.get("member"), payload.get("program_name") or event.touchpoint
    if not program:
        return None
    if not number:  # recorded before the membership had its number (the demo's history, an outside system)
        return _("Joined %(program)s") % {"program": program}
    return _("Joined %(program)s as %(number)s") % {"program": program, "number": number}


@line_for("points.changed")
def points_line(payload: dict, event) -> str:
    kind = payload["kind"]
    label = EntryKind(kind).label if kind in EntryKind.values else kind
    line = _("%(kind)s %(points)s %(name)s · balance %(balance)s") % {
        "kind": label, "points": points(payload["points"], sign=True), "name": _unit(payload),
        "balance": points(payload["balance"])}
    # A manager's own words for an adjustment; the system's entries say what they are by their kind.
    if kind == EntryKind.ADJUST and payload.get("reason"):
        line += f" · {payload['reason']}"
    return line


@line_for("points.expiring")
def expiring_line(payload: dict, event) -> str:
    return _("%(points)s %(name)s expire on %(date)s") % {"points": points(payload["points"]), "name": _unit(payload),
                                                          "date": day(payload["expires_on"])}


@line_for("tier.changed")
def tier_line(payload: dict, event) -> str:
    template = _("Moved down to %(tier)s") if payload.get("direction") == "down" else _("Upgraded to %(tier)s")
    return template % {"tier": payload["to"]}


def _coupon(payload: dict, event) -> str:
    name = payload.get("name") or event.touchpoint
    if not name:
        raise KeyError("name")
    return name


@line_for("coupon.issued")
def issued_line(payload: dict, event) -> str:
    return _("Coupon %(name)s issued") % {"name": _coupon(payload, event)}


@line_for("coupon.redeemed")
def redeemed_line(payload: dict, event) -> str:
    return _("Coupon %(name)s used on order %(order)s") % {"name": _coupon(payload, event),
                                                          "order": payload["order"]}


@line_for("coupon.reversed")
def reversed_line(payload: dict, event) -> str:
    return _("Coupon %(name)s given back (order %(order)s)") % {"name": _coupon(payload, event),
                                                               "order": payload["order"]}

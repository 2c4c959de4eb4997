"""Live events applied in one batch give exactly what the same events give applied one at a time."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from fidelis.config.celery import app
from fidelis.customers.models import CustomerTag
from fidelis.events.dispatch import dispatch_pending
from fidelis.events.models import Event, PendingDispatch
from fidelis.events.services import record_event
from fidelis.loyalty.ledger import ledger_check
from fidelis.loyalty.models import AppliedEvent, Coupon, Member, PointsEntry, RuleStatus, Tier
from fidelis.loyalty.services import member_enrol, rule_save
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _queued(record):
    """Run `record()` with the events it writes queued but not dispatched (as when no worker runs yet)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            result = record()
            transaction.get_connection().run_on_commit.clear()  # the messages to a worker are not sent
    finally:
        app.conf.task_always_eager = saved
    return result


def _group(program, manager, label):
    """Four customers with the same history: a referrer and three members (one referred, one with a birthday
    this month, one who is no member and buys anyway), and their purchases, queued."""
    today = timezone.localdate()
    referrer = member_enrol(actor=manager, program=program, customer=CustomerFactory())[0]
    referred = member_enrol(actor=manager, program=program, customer=CustomerFactory(), referrer=referrer)[0]
    birthday = member_enrol(actor=manager, program=program,
                            customer=CustomerFactory(birthday=date(1990, today.month, 1)))[0]
    walk_in = CustomerFactory()
    buyers = [referred.customer, birthday.customer, walk_in, referrer.customer]
    amounts = ["88.80", "2500.00", "120.00", "3000.00", "15.50", "6000.00", "2100.00", "99.90"]

    def record():
        events = []
        for i, amount in enumerate(amounts):
            customer = buyers[i % len(buyers)]
            events.append(record_event(customer=customer, type="order.paid", channel="store", touchpoint="S20",
                                       payload={"amount": amount, "order_no": f"{label}-{i}", "store": "S20"},
                                       idempotency_key=f"{label}:{i}")[0])
        # the same order number again earns nothing
        events.append(record_event(customer=buyers[0], type="order.paid", channel="store",
                                   payload={"amount": amounts[0], "order_no": f"{label}-0"},
                                   idempotency_key=f"{label}:again")[0])
        return events

    return [referrer, referred, birthday], walk_in, _queued(record)


def _outcome(members, walk_in, events):
    """What the events did, with the group's own names taken out, so that two groups compare."""
    names = {m.pk: f"m{i}" for i, m in enumerate(members)}
    numbers = {m.number: f"m{i}" for i, m in enumerate(members)}
    customers = {m.customer_id: f"c{i}" for i, m in enumerate(members)} | {walk_in.pk: "walk-in"}
    result = {}
    for member in Member.objects.filter(pk__in=names).select_related("tier"):
        entries = PointsEntry.objects.filter(member=member).order_by("occurred_at", "pk")
        result[names[member.pk]] = {
            "balance": member.balance, "earned": member.earned_total, "purchases": member.purchases,
            "tier": member.tier.name, "ledger": ledger_check(member),
            "entries": [(e.kind, e.points, e.balance_after, e.rule_id, _named(e.reason, numbers)) for e in entries]}
    result["applied"] = sorted(AppliedEvent.objects.filter(event__in=events).values_list("points", flat=True))
    result["coupons"] = sorted(customers[c] for c in Coupon.objects.filter(customer__in=customers)
                               .values_list("customer_id", flat=True))
    result["tags"] = sorted((customers[c], t) for c, t in CustomerTag.objects.filter(customer__in=customers)
                            .values_list("customer_id", "tag__name"))
    timeline = Event.objects.filter(customer__in=customers, type__in=["points.changed", "tier.changed"],
                                    created_at__gte=min(e.created_at for e in events))
    result["timeline"] = sorted((customers[c], t, p.get("points"), p.get("to")) for c, t, p in
                                timeline.values_list("customer_id", "type", "payload"))
    return result


def _named(text, numbers):
    for number, name in numbers.items():
        text = text.replace(number, name)
    return text


def test_a_batch_gives_what_the_same_events_give_one_by_one(program, manager):
    # given the starter program with a coupon for big S20 purchases and a tag for very big ones
    template = program.coupon_templates.order_by("pk").first()
    gold = Tier.objects.get(program=program, name="金卡")
    for name, conditions, actions in [
            ("S20 满 2000 送券", [{"kind": "store_in", "values": ["S20"]}, {"kind": "amount_min", "value": "2000"}],
             [{"kind": "issue_coupon", "template": template.public_id}]),
            ("六千升金卡", [{"kind": "amount_min", "value": "6000"}],
             [{"kind": "set_tier", "tier": str(gold.pk)}, {"kind": "add_tag", "tag": "大客户"}])]:
        rule_save(actor=manager, program=program, data={"name": name, "trigger": "order.paid",
                                                         "conditions": conditions, "actions": actions,
                                                         "status": RuleStatus.ACTIVE, "priority": 90})
    one = _group(program, manager, "one")
    batch = _group(program, manager, "batch")
    assert PendingDispatch.objects.count() == 18
    # when the first group's events are dispatched one at a time and the second group's in one batch
    assert dispatch_pending([e.pk for e in one[2]], more=False, limit=1) == 9
    assert dispatch_pending([e.pk for e in batch[2]], more=False) == 9
    dispatch_pending()  # the points.changed and tier.changed events the batches queued
    # then both groups end alike, to the ledger entry and the timeline event
    first, second = _outcome(*one), _outcome(*batch)
    for key in first:
        assert first[key] == second[key], (key, repr(first[key]), repr(second[key]))
    assert first == second
    # and the rules did give something of each kind: referral points, coupons, a tag, a tier raised by a rule
    assert any("推荐" in e[4] for e in first["m0"]["entries"])
    assert first["coupons"] and first["tags"] == [("c2", "大客户")]
    assert ("c2", "tier.changed", None, "金卡") in first["timeline"]
    assert first["applied"].count(0) >= 2  # the order counted twice, and the walk-in's purchases
    assert not PendingDispatch.objects.exists()


def _with_history(program, manager, label):
    """A member with purchases over the last 400 days (one partly refunded) but in the base tier (as after a
    downgrade at review), and three purchases of the last three days, queued."""
    now = timezone.now()
    member = member_enrol(actor=manager, program=program, customer=CustomerFactory())[0]
    customer = member.customer
    for i, (days, amount) in enumerate([(400, "9000.00"), (366, "1000.00"), (100, "2000.00"), (1, "300.00")]):
        record_event(customer=customer, type="order.paid", channel="store", occurred_at=now - timedelta(days=days),
                     payload={"amount": amount, "order_no": f"h{i}"}, idempotency_key=f"{label}:h{i}")
    record_event(customer=customer, type="order.refunded", channel="store", occurred_at=now - timedelta(days=90),
                 payload={"amount": "500.00", "order_no": "h2"}, idempotency_key=f"{label}:refund")
    base = Tier.objects.get(program=program, rank=0)
    Member.objects.filter(pk=member.pk).update(tier=base)

    def record():
        # the last one is an earlier purchase's order again: it earns nothing
        return [record_event(customer=customer, type="order.paid", channel="store", occurred_at=now - timedelta(days=days),
                             payload={"amount": amount, "order_no": number}, idempotency_key=f"{label}:new:{number}")[0]
                for number, days, amount in [("n0", 3, "600.00"), ("n1", 2, "100.00"), ("n2", 0, "100.00"),
                                             ("h3", 0, "300.00")]]

    return [member], CustomerFactory(), _queued(record)


@pytest.mark.parametrize("basis", [Tier.Basis.SPEND, Tier.Basis.POINTS])
def test_a_batch_counts_the_tier_window_as_one_by_one(program, manager, basis):
    # given two members with the same history: an old purchase out of the window, one that leaves the window
    # while the batch's purchases happen, one partly refunded and one later than the batch's first purchase;
    # the tiers count spend, or points earned
    Tier.objects.filter(program=program).update(basis=basis)
    one = _with_history(program, manager, "one")
    batch = _with_history(program, manager, "batch")
    # when one member's new purchases are dispatched one at a time and the other's in one batch
    assert dispatch_pending([e.pk for e in one[2]], more=False, limit=1) == 4
    assert dispatch_pending([e.pk for e in batch[2]], more=False) == 4
    dispatch_pending()
    # then both end alike; on spend both reach 银卡 at the first new purchase: 1,000 + 1,500 + 600 in its window
    # (not the 9,000, not the 300)
    first, second = _outcome(*one), _outcome(*batch)
    for key in first:
        assert first[key] == second[key], (key, repr(first[key]), repr(second[key]))
    assert first["m0"]["purchases"] == 7 and first["applied"].count(0) == 1
    if basis == Tier.Basis.POINTS:
        assert [t[3] for t in first["timeline"] if t[1] == "tier.changed"]
        return
    assert first["m0"]["tier"] == "银卡"
    assert [t for t in first["timeline"] if t[1] == "tier.changed"] == [("c0", "tier.changed", None, "银卡")]

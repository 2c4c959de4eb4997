"""Demo data of the pipeline: the default pipeline, ~120 opportunities of the demo sales reps on their customers at
every stage (some won with an order and a contract, some lost with a reason), and ~40 contracts, a few of them
ending within 30 days. Written in bulk, with the timeline events the services would have recorded (created,
stage changed, won or lost, contract signed) but no dispatch, so `fidelis demo` stays fast."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from random import Random

from django.db import transaction
from django.utils import timezone

from fidelis.accounts.models import Role
from fidelis.customers.models import Customer
from fidelis.events.models import Event
from fidelis.pipeline.models import (
    Contract,
    ContractStatus,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    Pipeline,
    Stage,
    StageKind,
)
from fidelis.pipeline.services import (
    contract_event_payload,
    opportunity_event_payload,
    pipeline_default,
)
from fidelis.sales.models import Order, PaymentMethod

OPPORTUNITIES = 120
CONTRACTS = 40
TITLES = ["企业年会礼品团购", "婚庆金饰套装", "员工福利卡采购", "门店会员储值卡", "中秋礼盒定制", "数码产品批量采购",
          "儿童乐园年卡团购", "宠物店年度洗护套餐", "影城包场活动", "商务宴请火锅套餐", "新店开业花篮", "会员日联名活动"]
AMOUNTS = [3000, 5000, 8000, 12000, 18000, 25000, 36000, 50000, 80000, 120000]


def demo_pipeline_load(ctx) -> dict[str, int]:
    """Write the pipeline, the opportunities and the contracts; return the counts."""
    rng = Random(ctx.seed + 5)
    pipeline = pipeline_default()
    stages = list(pipeline.stages.order_by("order"))
    reps = ctx.users_with_role(Role.SALES)
    now = ctx.now
    mine = {rep.pk: list(Customer.objects.active().filter(owner=rep).order_by("pk").values_list("pk", flat=True)[:200])
            for rep in reps}
    reps = [rep for rep in reps if mine[rep.pk]]
    if not reps:
        return {"opportunities": 0, "contracts": 0}
    orders = {}
    for pk, customer_id in Order.objects.filter(customer_id__in=[c for ids in mine.values() for c in ids]) \
            .order_by("paid_at").values_list("pk", "customer_id"):
        orders[customer_id] = pk
    opportunities, changes, contracts = [], [], []
    for index in range(OPPORTUNITIES):
        rep = reps[index % len(reps)]
        stage = stages[index % len(stages)]
        created = now - timedelta(days=rng.randint(5, 150))
        amount = Decimal(rng.choice(AMOUNTS))
        close = (now + timedelta(days=rng.randint(-20, 150))).date()
        opp = Opportunity(customer_id=rng.choice(mine[rep.pk]), title=rng.choice(TITLES),
                          source=rng.choice(OpportunitySource.values), expected_amount=amount,
                          expected_close_date=close, stage=stage, status=stage.kind, probability=stage.probability,
                          owner=rep, created_by=rep, created_at=created,
                          stage_changed_at=created + timedelta(days=rng.randint(1, 4)))
        if stage.kind != StageKind.OPEN:
            closed = min(created + timedelta(days=rng.randint(7, 60)), now)
            opp.closed_at, opp.cycle_days = closed, (closed - created).days
            opp.expected_close_date = closed.date()
            if stage.kind == StageKind.WON:
                opp.won_at = closed
                opp.order_id = orders.get(opp.customer_id) if index % 2 else None
            else:
                opp.lost_at = closed
                opp.lost_reason = rng.choice(LostReason.values)
        opportunities.append(opp)
    Opportunity.objects.bulk_create(opportunities)
    first = stages[0]
    for opp in opportunities:
        changes.append(OpportunityStageChange(opportunity=opp, from_stage=None, to_stage=first, changed_by=opp.owner,
                                              changed_at=opp.created_at))
        if opp.stage_id != first.pk:
            changes.append(OpportunityStageChange(opportunity=opp, from_stage=first, to_stage=opp.stage,
                                                  changed_by=opp.owner, changed_at=opp.stage_changed_at))
    OpportunityStageChange.objects.bulk_create(changes)
    won = [o for o in opportunities if o.status == StageKind.WON]
    today = now.date()
    for index in range(CONTRACTS):
        # A few, signed a year ago before the pipeline was kept here, end within the next 30 days; those of a won
        # opportunity start the day it was won; the rest run for a year from some time in the last months.
        renewal_due = index % 8 == 0
        opp = won[index % len(won)] if index < len(won) and not renewal_due else None
        rep = opp.owner if opp else reps[index % len(reps)]
        customer_id = opp.customer_id if opp else rng.choice(mine[rep.pk])
        if renewal_due:
            end = today + timedelta(days=rng.randint(3, 28))
            start = end - timedelta(days=364)
        elif opp is not None:
            start = timezone.localtime(opp.won_at).date()
            end = start + timedelta(days=364)
        else:
            start = today - timedelta(days=rng.randint(0, 300))
            end = start + timedelta(days=364)
        contracts.append(Contract(
            number=f"HT-{start:%Y%m}-{index + 1:04d}", customer_id=customer_id, opportunity=opp,
            title=opp.title if opp else rng.choice(TITLES), amount=opp.expected_amount if opp else
            Decimal(rng.choice(AMOUNTS)), payment_method=rng.choice([PaymentMethod.TRANSFER, PaymentMethod.CARD,
                                                                      PaymentMethod.WECHAT_PAY]),
            start_date=start, end_date=end, status=ContractStatus.ACTIVE, owner=rep, created_by=rep,
            signed_at=start, created_at=timezone.make_aware(timezone.datetime.combine(start, timezone.datetime.min
                                                                                       .time()))))
    Contract.objects.bulk_create(contracts)
    Event.objects.bulk_create(_timeline(opportunities, contracts, first), batch_size=500)
    return {"opportunities": len(opportunities), "contracts": len(contracts)}


def _timeline(opportunities: list[Opportunity], contracts: list[Contract], first: Stage) -> list[Event]:
    """Return the events the pipeline services record, at the times the demo gave each step."""
    events = []

    def add(customer_id, type_, at, actor, payload):
        events.append(Event(customer_id=customer_id, type=type_, occurred_at=at, actor=actor, payload=payload))

    for opp in opportunities:
        add(opp.customer_id, "opportunity.created", opp.created_at, opp.owner,
            opportunity_event_payload(opp, first, source=opp.source))
        if opp.stage_id != first.pk:
            add(opp.customer_id, "opportunity.stage_changed", opp.stage_changed_at, opp.owner,
                opportunity_event_payload(opp, from_stage=first.name))
        if opp.status == StageKind.WON:
            add(opp.customer_id, "opportunity.won", opp.closed_at, opp.owner,
                opportunity_event_payload(opp))
        elif opp.status == StageKind.LOST:
            add(opp.customer_id, "opportunity.lost", opp.closed_at, opp.owner,
                opportunity_event_payload(opp, lost_reason=opp.lost_reason, lost_note=opp.lost_note))
    for contract in contracts:
        add(contract.customer_id, "contract.signed", contract.created_at, contract.owner,
            contract_event_payload(contract))
    return events


def demo_pipeline_reset() -> None:
    """Delete every contract, opportunity, stage and pipeline, and their timeline events."""
    Event.objects.filter(type__startswith="opportunity.").delete()
    Event.objects.filter(type__startswith="contract.").delete()
    Contract.objects.filter(renewal_of__isnull=False).delete()
    Contract.objects.all().delete()
    OpportunityStageChange.objects.all().delete()
    Opportunity.products.through.objects.all().delete()
    Opportunity.objects.all().delete()
    Stage.objects.all().delete()
    Pipeline.objects.all().delete()


# ---------------------------------------------------------------------------------------------------------------
# The loader interface of `fidelis demo` (see fidelis.web.management.commands.demo); it runs after the sales one.


def demo_load(ctx) -> dict[str, int]:
    with transaction.atomic():
        done = demo_pipeline_load(ctx)
    ctx.write(f"  {done['opportunities']} opportunities, {done['contracts']} contracts")
    return done


def demo_reset(ctx) -> None:
    demo_pipeline_reset()

"""Reads on the sales pipeline. A sales rep sees their own opportunities and contracts (on customers they may see);
managers, marketing and read-only users see everyone's. Ids the user may not see raise NotFound (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from fidelis.accounts.models import User
from fidelis.accounts.permissions import CAPABILITIES, has_capability
from fidelis.core.errors import NotFound
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_visible_qs
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.models import Contract, Opportunity, Pipeline, Stage, StageKind
from fidelis.pipeline.services import is_rep, pipeline_default

CENT = Decimal("0.01")
WEIGHTED = ExpressionWrapper(Coalesce(F("expected_amount"), Value(Decimal("0"))) * F("probability") / 100,
                             output_field=DecimalField(max_digits=16, decimal_places=2))


def opportunity_visible_qs(user) -> QuerySet[Opportunity]:
    """Return the opportunities the user may see."""
    if not has_capability(user, "opportunity.view"):
        return Opportunity.objects.none()
    qs = Opportunity.objects.all()
    if is_rep(user):
        qs = qs.filter(owner=user, customer__in=customer_visible_qs(user))
    return qs


def contract_visible_qs(user) -> QuerySet[Contract]:
    """Return the contracts the user may see."""
    if not has_capability(user, "contract.view"):
        return Contract.objects.none()
    qs = Contract.objects.all()
    if is_rep(user):
        qs = qs.filter(owner=user, customer__in=customer_visible_qs(user))
    return qs


def opportunity_get_for_user(user, public_id: str) -> Opportunity:
    """Return the visible opportunity with this public id, or raise NotFound."""
    found = (opportunity_visible_qs(user).select_related("customer", "stage", "stage__pipeline", "owner",
                                                          "created_by", "order")
             .filter(public_id=public_id).first())
    if found is None:
        raise NotFound(_("No such opportunity."), code=PipelineCode.NOT_FOUND)
    return found


def contract_get_for_user(user, public_id: str) -> Contract:
    """Return the visible contract with this public id, or raise NotFound."""
    found = (contract_visible_qs(user).select_related("customer", "owner", "opportunity", "renewal_of",
                                                      "created_by")
             .filter(public_id=public_id).first())
    if found is None:
        raise NotFound(_("No such contract."), code=PipelineCode.NOT_FOUND)
    return found


def pipeline_get(pk: int | str | None = None) -> Pipeline:
    """Return the pipeline with this id (the default one when none is named), or raise NotFound."""
    if pk in (None, ""):
        return pipeline_default()
    found = Pipeline.objects.filter(pk=int(pk)).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(_("No such pipeline."), code=PipelineCode.NOT_FOUND)
    return found


def pipelines_active() -> list[Pipeline]:
    pipeline_default()
    return list(Pipeline.objects.filter(is_active=True))


def stages_of(pipeline: Pipeline) -> list[Stage]:
    return list(pipeline.stages.order_by("order", "id"))


def sales_owners() -> QuerySet[User]:
    """Return the active users who may own opportunities and contracts."""
    return User.objects.filter(is_active=True, role__in=CAPABILITIES["opportunity.change"]).order_by("username")


@dataclass
class OpportunityFilters:
    stage: str = ""  # stage id
    owner: str = ""  # user id
    source: str = ""
    month: str = ""  # expected close month, YYYY-MM
    customer: str = ""  # public id
    status: str = ""
    q: str = ""


def _month(text: str) -> tuple[date, date] | None:
    try:
        year, month = (int(part) for part in text.split("-"))
        start = date(year, month, 1)
    except (ValueError, TypeError):
        return None
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def opportunity_list_filtered(user, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """Return the visible opportunities matching the list filters, latest change first."""
    qs = opportunity_visible_qs(user).select_related("customer", "stage", "owner")
    if filters.stage.isdigit():
        qs = qs.filter(stage_id=int(filters.stage))
    if filters.owner.isdigit():
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.status in StageKind.values:
        qs = qs.filter(status=filters.status)
    span = _month(filters.month) if filters.month else None
    if span:
        qs = qs.filter(expected_close_date__gte=span[0], expected_close_date__lt=span[1])
    if filters.customer:
        qs = qs.filter(customer__public_id=filters.customer)
    if filters.q:
        qs = qs.filter(title__contains=filters.q.strip())
    return qs.order_by("-updated_at", "-id")


def opportunity_totals(qs: QuerySet[Opportunity]) -> dict:
    """Return count, raw and weighted expected amounts of a list of opportunities."""
    sums = qs.order_by().aggregate(n=Count("id"), raw=Sum("expected_amount"), weighted=Sum(WEIGHTED))
    return {"count": sums["n"], "raw": (sums["raw"] or Decimal("0")).quantize(CENT),
            "weighted": (sums["weighted"] or Decimal("0")).quantize(CENT)}


BOARD_CARDS = 50  # cards shown per column; the column's count and sums cover all of them


def board(user, pipeline: Pipeline, *, owner: str = "") -> list[dict]:
    """Return the board's columns: each stage with its count, raw and weighted sums (one GROUP BY) and its cards."""
    stages = stages_of(pipeline)
    qs = opportunity_visible_qs(user).filter(stage__pipeline=pipeline)
    if owner.isdigit():
        qs = qs.filter(owner_id=int(owner))
    sums = {row["stage_id"]: row for row in qs.order_by().values("stage_id").annotate(
        n=Count("id"), raw=Sum("expected_amount"), weighted=Sum(WEIGHTED))}
    columns = []
    for stage in stages:
        row = sums.get(stage.pk, {})
        cards = list(qs.filter(stage=stage).select_related("customer", "owner")
                     .order_by("-stage_changed_at", "-id")[:BOARD_CARDS])
        for card in cards:
            card.stage = stage
        columns.append({"stage": stage, "count": row.get("n", 0), "cards": cards,
                        "raw": (row.get("raw") or Decimal("0")).quantize(CENT),
                        "weighted": (row.get("weighted") or Decimal("0")).quantize(CENT)})
    return columns


def opportunity_history(opportunity: Opportunity) -> list:
    return list(opportunity.stage_changes.select_related("from_stage", "to_stage", "changed_by")
                .order_by("changed_at", "id"))


def customer_opportunities(user, customer: Customer, *, limit: int = 6) -> tuple[list[Opportunity], dict]:
    """Return the customer's latest visible opportunities (open first) and the totals of the open ones."""
    qs = opportunity_visible_qs(user).filter(customer=customer)
    latest = list(qs.select_related("stage", "owner").order_by("status", "-updated_at", "-id")[:limit])
    return latest, opportunity_totals(qs.filter(status=StageKind.OPEN))


@dataclass
class ContractFilters:
    status: str = ""
    owner: str = ""
    customer: str = ""
    ending_within: str = ""  # days
    q: str = ""


def contract_list_filtered(user, filters: ContractFilters, *, today: date | None = None) -> QuerySet[Contract]:
    """Return the visible contracts matching the list filters, latest start first."""
    from datetime import timedelta

    from django.utils import timezone

    qs = contract_visible_qs(user).select_related("customer", "owner")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.owner.isdigit():
        qs = qs.filter(owner_id=int(filters.owner))
    if filters.customer:
        qs = qs.filter(customer__public_id=filters.customer)
    if filters.ending_within.isdigit():
        today = today or timezone.localdate()
        qs = qs.filter(end_date__gte=today, end_date__lte=today + timedelta(days=int(filters.ending_within)))
    if filters.q:
        text = filters.q.strip().upper()
        qs = qs.filter(number__startswith=text)
    return qs.order_by("-start_date", "-id")


# --- pipelines and stages (the management pages and API) ----------------------------------------------------------


@dataclass
class PipelineRow:
    pipeline: Pipeline
    stages: list[Stage]
    open_opportunities: int


def pipelines_overview(user, pk: int | None = None) -> list[PipelineRow]:
    """Return every pipeline (default first) with its stages and the number of its open opportunities the user
    may see; only the one with this id when given."""
    qs = Pipeline.objects.prefetch_related("stages").order_by("-is_default", "name")
    if pk is not None:
        qs = qs.filter(pk=pk)
    counts = dict(opportunity_visible_qs(user).filter(status=StageKind.OPEN).order_by()
                  .values_list("stage__pipeline").annotate(n=Count("id")).values_list("stage__pipeline", "n"))
    return [PipelineRow(p, sorted(p.stages.all(), key=lambda s: (s.order, s.pk)), counts.get(p.pk, 0)) for p in qs]


def stages_with_counts(pipeline: Pipeline) -> list[Stage]:
    """Return the pipeline's stages in order, each with `opportunity_count` (all owners)."""
    return list(pipeline.stages.annotate(opportunity_count=Count("opportunities")).order_by("order", "id"))


def stage_get(pk: int | str) -> Stage:
    """Return the stage with this id, or raise NotFound."""
    found = Stage.objects.select_related("pipeline").filter(pk=int(pk)).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(_("No such stage."), code=PipelineCode.NOT_FOUND)
    return found


"""Pipeline reports (MISSION C4): pipeline value per stage (raw and weighted by probability), the forecast by month
of expected close (weighted), and win rate and average cycle by rep or by source over a period.

Each figure is one GROUP BY over the opportunities the user may count: a sales rep their own, managers, marketing
and read-only users everyone's. The indexes on (status, expected_close_date), (status, closed_at) and
(stage, owner) serve them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.accounts.models import User
from fidelis.accounts.permissions import has_capability
from fidelis.core.dates import parse_date
from fidelis.core.errors import DomainError
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.models import Opportunity, OpportunitySource, Pipeline, StageKind
from fidelis.pipeline.services import is_rep, pipeline_default

CENT = Decimal("0.01")
DIMENSIONS = {"owner": gettext_lazy("sales rep"), "source": gettext_lazy("source")}
MAX_DAYS = 3 * 366
FORECAST_MONTHS = 6
WEIGHTED = ExpressionWrapper(Coalesce(F("expected_amount"), Value(Decimal("0"))) * F("probability") / 100,
                             output_field=DecimalField(max_digits=16, decimal_places=2))


def _money(value) -> Decimal:
    return (value or Decimal("0")).quantize(CENT)


@dataclass(frozen=True)
class PipelineQuery:
    dimension: str = "owner"
    start: date | None = None
    end: date | None = None  # inclusive

    @classmethod
    def parse(cls, data, *, today: date | None = None) -> PipelineQuery:
        """Return the query of a query string; raise DomainError naming the bad field."""
        today = today or timezone.localdate()
        dimension = data.get("dimension") or "owner"
        if dimension not in DIMENSIONS:
            raise DomainError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(DIMENSIONS)},
                              code=PipelineCode.INVALID_CHOICE, field="dimension")
        end = parse_date(data.get("end"), field="end") or today
        start = parse_date(data.get("start"), field="start") or end - timedelta(days=89)
        if start > end:
            raise DomainError(_("The start date is after the end date."), code=PipelineCode.START_AFTER_END, field="start")
        if (end - start).days > MAX_DAYS:
            raise DomainError(_("At most %(days)s days.") % {"days": MAX_DAYS}, code=PipelineCode.RANGE_TOO_LONG, field="start")
        return cls(dimension=dimension, start=start, end=end)


@dataclass
class PipelineReport:
    query: PipelineQuery
    pipeline: Pipeline
    stages: list[dict] = field(default_factory=list)
    forecast: list[dict] = field(default_factory=list)
    rates: list[dict] = field(default_factory=list)

    @property
    def open_raw(self) -> Decimal:
        return sum((s["raw"] for s in self.stages), Decimal("0"))

    @property
    def open_weighted(self) -> Decimal:
        return sum((s["weighted"] for s in self.stages), Decimal("0"))


def counted_opportunities(user) -> QuerySet[Opportunity]:
    """Return the opportunities the user's figures count: a rep's own, everyone's for the other roles."""
    if not has_capability(user, "report.sales"):
        return Opportunity.objects.none()
    qs = Opportunity.objects.all()
    return qs.filter(owner=user) if is_rep(user) else qs


def pipeline_value(qs: QuerySet[Opportunity], pipeline: Pipeline) -> list[dict]:
    """Return each open stage with its count and raw and weighted expected amounts (one GROUP BY)."""
    sums = {row["stage_id"]: row for row in qs.filter(status=StageKind.OPEN, stage__pipeline=pipeline).order_by()
            .values("stage_id").annotate(n=Count("id"), raw=Sum("expected_amount"), weighted=Sum(WEIGHTED))}
    rows = []
    for stage in pipeline.stages.filter(kind=StageKind.OPEN).order_by("order"):
        row = sums.get(stage.pk, {})
        rows.append({"stage": stage.name, "probability": stage.probability, "count": row.get("n", 0),
                     "raw": _money(row.get("raw")), "weighted": _money(row.get("weighted"))})
    return rows


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def forecast(qs: QuerySet[Opportunity], *, first: date, months: int = FORECAST_MONTHS) -> list[dict]:
    """Return the open opportunities' expected amounts (raw and weighted) per month of expected close, from the
    month of `first` for `months` months (one GROUP BY)."""
    start, end = _month_start(first), _add_months(first, months)
    rows = (qs.filter(status=StageKind.OPEN, expected_close_date__gte=start, expected_close_date__lt=end).order_by()
            .annotate(month=TruncMonth("expected_close_date")).values("month")
            .annotate(n=Count("id"), raw=Sum("expected_amount"), weighted=Sum(WEIGHTED)))
    by_month = {}
    for row in rows:
        month = row["month"]
        month = month.date() if hasattr(month, "date") and callable(month.date) else month
        by_month[(month.year, month.month)] = row
    result = []
    for index in range(months):
        month = _add_months(start, index)
        row = by_month.get((month.year, month.month), {})
        result.append({"month": month, "count": row.get("n", 0), "raw": _money(row.get("raw")),
                       "weighted": _money(row.get("weighted"))})
    return result


def win_rates(qs: QuerySet[Opportunity], query: PipelineQuery) -> list[dict]:
    """Return per rep or source the opportunities closed in the period: won, lost, win rate, won amount and the
    average days from creation to won or lost (one GROUP BY)."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(timezone.datetime.combine(query.start, timezone.datetime.min.time()), tz)
    end = timezone.make_aware(timezone.datetime.combine(query.end + timedelta(days=1),
                                                        timezone.datetime.min.time()), tz)
    key = "owner_id" if query.dimension == "owner" else "source"
    rows = list(qs.filter(status__in=[StageKind.WON, StageKind.LOST], closed_at__gte=start, closed_at__lt=end)
                .order_by().values(key)
                .annotate(won=Count("id", filter=Q(status=StageKind.WON)),
                          lost=Count("id", filter=Q(status=StageKind.LOST)),
                          won_amount=Sum("expected_amount", filter=Q(status=StageKind.WON)),
                          cycle=Avg("cycle_days")))
    if query.dimension == "owner":
        names = {u.pk: str(u) for u in User.objects.filter(pk__in=[r[key] for r in rows])}
        label = names.get
    else:
        labels = dict(OpportunitySource.choices)

        def label(value):
            return str(labels.get(value, value))
    result = []
    for row in rows:
        closed = row["won"] + row["lost"]
        result.append({"label": label(row[key]) or "—", "won": row["won"], "lost": row["lost"], "closed": closed,
                       "win_rate": round(100 * row["won"] / closed, 1) if closed else None,
                       "won_amount": _money(row["won_amount"]),
                       "cycle_days": round(float(row["cycle"]), 1) if row["cycle"] is not None else None})
    return sorted(result, key=lambda r: (-r["closed"], r["label"]))


def pipeline_report(*, user, query: PipelineQuery, pipeline: Pipeline | None = None,
                    today: date | None = None) -> PipelineReport:
    """Return the three pipeline figures the user may see."""
    pipeline = pipeline or pipeline_default()
    qs = counted_opportunities(user)
    today = today or timezone.localdate()
    return PipelineReport(query=query, pipeline=pipeline, stages=pipeline_value(qs, pipeline),
                          forecast=forecast(qs, first=today), rates=win_rates(qs, query))


def report_table(report: PipelineReport) -> list[list]:
    """Return the report as rows for CSV / XLSX: the three sections one after the other."""
    rows: list[list] = [[_("Pipeline value"), report.pipeline.name],
                        [_("stage"), _("probability %"), _("opportunities"), _("amount"), _("weighted")]]
    rows += [[s["stage"], s["probability"], s["count"], s["raw"], s["weighted"]] for s in report.stages]
    rows += [[], [_("Forecast by month of expected close")], [_("month"), _("opportunities"), _("amount"),
                                                                _("weighted")]]
    rows += [[f["month"].strftime("%Y-%m"), f["count"], f["raw"], f["weighted"]] for f in report.forecast]
    rows += [[], [_("Win rate"), report.query.start.isoformat(), report.query.end.isoformat()],
             [str(DIMENSIONS[report.query.dimension]), _("won"), _("lost"), _("win rate %"), _("won amount"),
              _("average days to close")]]
    rows += [[r["label"], r["won"], r["lost"], r["win_rate"], r["won_amount"], r["cycle_days"]]
             for r in report.rates]
    return rows

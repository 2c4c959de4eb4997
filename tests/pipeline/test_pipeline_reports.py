"""Pipeline reports on a small known data set: value per stage, forecast by month, win rate and cycle by rep and
source; what a sales rep counts; the page, its chart and its audited export."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fidelis.accounts.models import AuditEntry
from fidelis.pipeline.models import Opportunity, OpportunitySource
from fidelis.pipeline.reports import PipelineQuery, pipeline_report
from fidelis.pipeline.services import opportunity_create, opportunity_move
from tests.pipeline.fixtures import (  # noqa: F401
    rep2_customer_fixture,
    rep2_fixture,
    rep_customer_fixture,
    stages_fixture,
)

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 15)


@pytest.fixture
def data(sales, rep2, rep_customer, rep2_customer, stages):
    """sales: 10,000 in 初步接触 (Mar), 20,000 in 方案报价 (Apr); won 5,000 after 10 days; lost after 20 days.
    rep2: 40,000 in 谈判 (Mar); won 8,000 after 30 days (referral)."""
    def make(actor, customer, amount, close, source="walk_in"):
        return opportunity_create(actor=actor, customer=customer, title=f"{amount}", source=source,
                                  expected_amount=amount, expected_close_date=close)

    def age(opp, days):
        Opportunity.objects.filter(pk=opp.pk).update(created_at=timezone.now() - timedelta(days=days, hours=1))
        opp.refresh_from_db()

    make(sales, rep_customer, "10000", "2026-03-20")
    opportunity_move(actor=sales, opportunity=make(sales, rep_customer, "20000", "2026-04-10"),
                     stage=stages["方案报价"])
    opportunity_move(actor=rep2, opportunity=make(rep2, rep2_customer, "40000", "2026-03-31"), stage=stages["谈判"])
    won = make(sales, rep_customer, "5000", "2026-03-01")
    age(won, 10)
    opportunity_move(actor=sales, opportunity=won, stage=stages["赢单"])
    lost = make(sales, rep_customer, "7000", "2026-03-01")
    age(lost, 20)
    opportunity_move(actor=sales, opportunity=lost, stage=stages["输单"], lost_reason="price")
    won2 = make(rep2, rep2_customer, "8000", "2026-03-01", source="referral")
    age(won2, 30)
    opportunity_move(actor=rep2, opportunity=won2, stage=stages["赢单"])


def _report(user, **query):
    today = timezone.localdate()
    q = PipelineQuery.parse({"start": (today - timedelta(days=7)).isoformat(), "end": today.isoformat(), **query})
    return pipeline_report(user=user, query=q, today=TODAY)


def test_manager_sees_everyones_value_forecast_and_win_rate(manager, data):
    report = _report(manager)
    stages = {s["stage"]: s for s in report.stages}
    assert (stages["初步接触"]["count"], stages["初步接触"]["raw"], stages["初步接触"]["weighted"]) == (
        1, Decimal("10000.00"), Decimal("1000.00"))
    assert stages["方案报价"]["weighted"] == Decimal("12000.00") and stages["谈判"]["weighted"] == Decimal("32000.00")
    assert report.open_raw == Decimal("70000.00") and report.open_weighted == Decimal("45000.00")
    months = {f["month"]: f for f in report.forecast}
    assert months[date(2026, 3, 1)]["weighted"] == Decimal("33000.00")  # 1,000 + 32,000
    assert months[date(2026, 4, 1)]["raw"] == Decimal("20000.00") and len(report.forecast) == 6
    rates = {r["label"]: r for r in report.rates}
    assert (rates["sales"]["won"], rates["sales"]["lost"], rates["sales"]["win_rate"]) == (1, 1, 50.0)
    assert rates["sales"]["cycle_days"] == 15.0 and rates["sales"]["won_amount"] == Decimal("5000.00")
    assert (rates["sales2"]["win_rate"], rates["sales2"]["cycle_days"]) == (100.0, 30.0)


def test_by_source(manager, data):
    rates = {r["label"]: r for r in _report(manager, dimension="source").rates}
    assert rates[str(OpportunitySource.REFERRAL.label)]["won"] == 1
    assert sum(r["closed"] for r in rates.values()) == 3


def test_a_rep_counts_only_their_own(sales, data):
    report = _report(sales)
    assert report.open_raw == Decimal("30000.00")
    assert [r["label"] for r in report.rates] == ["sales"]


def test_period_excludes_older_closes(manager, data):
    report = _report(manager, start="2025-01-01", end="2025-12-31")
    assert report.rates == []


def test_page_with_chart_and_audited_export(client_for, manager, data):
    client = client_for(manager)
    response = client.get("/sales/reports/pipeline/")
    html = response.content.decode()
    assert response.status_code == 200 and "forecast-chart-data" in html and "plotly" in html
    assert client.get("/sales/reports/pipeline/?start=2026-02-30").status_code == 400
    csv_response = client.get("/sales/reports/pipeline/?export=csv")
    text = csv_response.content.decode("utf-8-sig")
    assert csv_response["Content-Type"].startswith("text/csv") and "方案报价" in text and "12000.00" in text
    xlsx = client.get("/sales/reports/pipeline/?export=xlsx")
    assert xlsx.content[:2] == b"PK"
    assert AuditEntry.objects.filter(action="sales.pipeline_report_export").count() == 2

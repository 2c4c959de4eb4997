"""Opportunity services: create, update, move through the stages, won (order, contract), lost, ownership."""

from datetime import date
from decimal import Decimal

import pytest

from fidelis.accounts.models import AuditEntry
from fidelis.core.errors import DomainError, NotFound, PermissionDenied
from fidelis.events.models import Event
from fidelis.pipeline.models import Contract, Opportunity, OpportunityStageChange, StageKind
from fidelis.pipeline.selectors import opportunity_get_for_user, opportunity_visible_qs
from fidelis.pipeline.services import (
    contract_create,
    opportunity_create,
    opportunity_move,
    opportunity_update,
    pipeline_default,
)
from fidelis.sales.models import Order
from tests.pipeline.fixtures import (  # noqa: F401
    rep2_customer_fixture,
    rep2_fixture,
    rep_customer_fixture,
    stages_fixture,
)

pytestmark = pytest.mark.django_db


def _opportunity(actor, customer, **extra):
    return opportunity_create(actor=actor, customer=customer, title="年会礼品团购", source="referral", **extra)


def test_pipeline_default_is_created_once_with_the_chinese_stages():
    first = pipeline_default()
    assert pipeline_default().pk == first.pk
    names = [(s.name, s.probability, s.kind) for s in first.stages.order_by("order")]
    assert names == [("初步接触", 10, "open"), ("需求确认", 30, "open"), ("方案报价", 60, "open"), ("谈判", 80, "open"),
                     ("赢单", 100, "won"), ("输单", 0, "lost")]


def test_opportunity_create_starts_in_the_first_stage_with_its_probability_and_an_event(sales, rep_customer):
    # when
    opp = _opportunity(sales, rep_customer, expected_amount="12000", expected_close_date="2026-06-30")
    # then
    opp.refresh_from_db()
    assert (opp.stage.name, opp.probability, opp.status, opp.owner) == ("初步接触", 10, "open", sales)
    assert opp.expected_amount == Decimal("12000.00") and opp.expected_close_date == date(2026, 6, 30)
    assert Event.objects.filter(customer=rep_customer, type="opportunity.created").count() == 1
    assert AuditEntry.objects.filter(action="opportunity.create", object_id=opp.public_id).exists()
    assert OpportunityStageChange.objects.filter(opportunity=opp, from_stage=None).count() == 1


@pytest.mark.parametrize("value", ["2026-02-30", "31/12/2026", "2026-13-01", "tomorrow"])
def test_opportunity_create_with_an_impossible_close_date_is_refused_and_writes_nothing(sales, rep_customer, value):
    with pytest.raises(DomainError) as exc:
        _opportunity(sales, rep_customer, expected_close_date=value)
    assert exc.value.field == "expected_close_date"
    assert not Opportunity.objects.exists() and not Event.objects.filter(type__startswith="opportunity").exists()


def test_opportunity_create_with_a_negative_amount_is_refused(sales, rep_customer):
    with pytest.raises(DomainError) as exc:
        _opportunity(sales, rep_customer, expected_amount="-5")
    assert exc.value.field == "expected_amount" and not Opportunity.objects.exists()


def test_opportunity_create_with_a_probability_out_of_range_is_refused(sales, rep_customer):
    with pytest.raises(DomainError) as exc:
        _opportunity(sales, rep_customer, probability=120)
    assert exc.value.field == "probability" and not Opportunity.objects.exists()


def test_opportunity_probability_can_be_overridden(sales, rep_customer):
    opp = _opportunity(sales, rep_customer, probability=25)
    assert opp.probability == 25


def test_rep_cannot_create_on_another_reps_customer(sales, rep2_customer):
    with pytest.raises(NotFound):
        _opportunity(sales, rep2_customer)
    assert not Opportunity.objects.exists()


def test_rep_cannot_give_an_opportunity_to_someone_else(sales, rep2, rep_customer):
    with pytest.raises(PermissionDenied):
        _opportunity(sales, rep_customer, owner=rep2)


def test_move_to_a_stage_missing_a_required_field_is_refused_naming_the_field(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer, expected_amount="5000")
    # when: 方案报价 needs the expected close date
    with pytest.raises(DomainError) as exc:
        opportunity_move(actor=sales, opportunity=opp, stage=stages["方案报价"])
    # then: nothing moved, nothing recorded
    assert exc.value.field == "expected_close_date" and "方案报价" in str(exc.value.message)
    opp.refresh_from_db()
    assert opp.stage.name == "初步接触"
    assert not Event.objects.filter(type="opportunity.stage_changed").exists()
    assert OpportunityStageChange.objects.filter(opportunity=opp).count() == 1


def test_move_with_the_missing_field_filled_records_history_and_a_timeline_event(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer)
    # when
    opportunity_move(actor=sales, opportunity=opp, stage=stages["方案报价"],
                     data={"expected_amount": "8000", "expected_close_date": "2026-09-30"})
    # then
    opp.refresh_from_db()
    assert (opp.stage.name, opp.probability, opp.expected_amount) == ("方案报价", 60, Decimal("8000.00"))
    event = Event.objects.get(customer=rep_customer, type="opportunity.stage_changed")
    assert event.payload["from_stage"] == "初步接触" and event.payload["stage"] == "方案报价"
    assert "初步接触 → 方案报价" in event.line
    change = OpportunityStageChange.objects.filter(opportunity=opp).last()
    assert (change.from_stage.name, change.to_stage.name, change.changed_by) == ("初步接触", "方案报价", sales)


def test_move_with_a_bad_date_in_data_writes_nothing(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer, expected_amount="100")
    with pytest.raises(DomainError) as exc:
        opportunity_move(actor=sales, opportunity=opp, stage=stages["方案报价"],
                         data={"expected_close_date": "2026-02-30"})
    assert exc.value.field == "expected_close_date"
    opp.refresh_from_db()
    assert opp.expected_close_date is None and opp.stage.name == "初步接触"


def test_won_creates_the_order_and_the_contract(sales, manager, rep_customer, stages, catalogue):
    opp = _opportunity(sales, rep_customer, expected_amount="2598", expected_close_date="2026-05-31")
    # when
    opportunity_move(actor=sales, opportunity=opp, stage=stages["赢单"],
                     order={"lines": [{"sku": "WF-101", "quantity": 2}], "channel": "store", "store": "2F-01",
                            "payment_method": "alipay"},
                     contract={"number": "HT-2026-001", "start_date": "2026-06-01", "end_date": "2027-05-31"})
    # then
    opp.refresh_from_db()
    assert (opp.status, opp.probability) == (StageKind.WON, 100) and opp.won_at and opp.closed_at
    assert opp.cycle_days == 0
    order = Order.objects.get(customer=rep_customer)
    assert opp.order == order and order.paid_amount == Decimal("2598.00")
    contract = Contract.objects.get(number="HT-2026-001")
    assert (contract.opportunity, contract.amount, contract.owner) == (opp, Decimal("2598.00"), sales)
    types = set(Event.objects.filter(customer=rep_customer).values_list("type", flat=True))
    assert {"opportunity.won", "order.paid", "contract.signed", "opportunity.stage_changed"} <= types
    won = Event.objects.get(type="opportunity.won")
    assert won.payload["order"] == order.order_no and won.payload["contract"] == "HT-2026-001"


def test_won_with_a_bad_order_line_writes_nothing(sales, rep_customer, stages, catalogue):
    opp = _opportunity(sales, rep_customer, expected_amount="100")
    with pytest.raises(DomainError):
        opportunity_move(actor=sales, opportunity=opp, stage=stages["赢单"],
                         order={"lines": [{"sku": "NOPE", "quantity": 1}], "channel": "store", "store": "2F-01",
                                "payment_method": "alipay"})
    opp.refresh_from_db()
    assert opp.status == "open" and not Order.objects.exists()
    assert not Event.objects.filter(type__in=["opportunity.won", "opportunity.stage_changed"]).exists()


def test_won_with_a_reused_contract_number_writes_nothing(sales, manager, rep_customer, stages):
    contract_create(actor=manager, customer=rep_customer, number="HT-1", amount="10", start_date="2026-01-01",
                    end_date="2026-12-31", owner=sales)
    opp = _opportunity(sales, rep_customer, expected_amount="100")
    with pytest.raises(DomainError) as exc:
        opportunity_move(actor=sales, opportunity=opp, stage=stages["赢单"],
                         contract={"number": "ht-1", "start_date": "2026-01-01", "end_date": "2026-12-31"})
    assert exc.value.field == "number"
    opp.refresh_from_db()
    assert opp.status == "open" and Contract.objects.count() == 1


def test_lost_requires_a_reason_and_records_it(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer)
    with pytest.raises(DomainError) as exc:
        opportunity_move(actor=sales, opportunity=opp, stage=stages["输单"])
    assert exc.value.field == "lost_reason"
    opp.refresh_from_db()
    assert opp.status == "open"
    # when
    opportunity_move(actor=sales, opportunity=opp, stage=stages["输单"], lost_reason="competitor",
                     lost_note="对手便宜 15%")
    # then
    opp.refresh_from_db()
    assert (opp.status, opp.lost_reason, opp.lost_note, opp.probability) == ("lost", "competitor", "对手便宜 15%", 0)
    event = Event.objects.get(type="opportunity.lost")
    assert event.payload["lost_reason"] == "competitor"


def test_a_won_opportunity_cannot_move_again(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer, expected_amount="100")
    opportunity_move(actor=sales, opportunity=opp, stage=stages["赢单"])
    with pytest.raises(DomainError):
        opportunity_move(actor=sales, opportunity=opp, stage=stages["谈判"])


def test_rep_gets_not_found_on_another_reps_opportunity(sales, rep2, rep2_customer, stages):
    opp = _opportunity(rep2, rep2_customer)
    with pytest.raises(NotFound):
        opportunity_get_for_user(sales, opp.public_id)
    with pytest.raises(NotFound):
        opportunity_update(actor=sales, opportunity=opp, data={"title": "抢单"})
    with pytest.raises(NotFound):
        opportunity_move(actor=sales, opportunity=opp, stage=stages["需求确认"])
    assert not opportunity_visible_qs(sales).exists()


def test_manager_sees_everyone_and_reassigns(manager, sales, rep2, users, rep_customer):
    opp = _opportunity(sales, rep_customer)
    assert opportunity_get_for_user(manager, opp.public_id) == opp
    assert opportunity_get_for_user(users["marketing"], opp.public_id) == opp
    # rep2 cannot see the customer of sales: refused
    with pytest.raises(DomainError) as exc:
        opportunity_update(actor=manager, opportunity=opp, data={"owner": rep2})
    assert exc.value.code == "owner_cannot_see_customer"
    # when: the customer is given to rep2 too, the manager reassigns
    rep_customer.owner = rep2
    rep_customer.save(update_fields=["owner"])
    opportunity_update(actor=manager, opportunity=opp, data={"owner": rep2})
    opp.refresh_from_db()
    assert opp.owner == rep2
    assert AuditEntry.objects.filter(action="opportunity.update", changes__owner__isnull=False).exists()


def test_rep_cannot_reassign(sales, rep2, rep_customer):
    opp = _opportunity(sales, rep_customer)
    with pytest.raises(PermissionDenied):
        opportunity_update(actor=sales, opportunity=opp, data={"owner": rep2})


def test_readonly_and_service_may_not_create(users, rep_customer):
    for role in ("readonly", "marketing", "service"):
        with pytest.raises(DomainError):
            _opportunity(users[role], rep_customer)
    assert not Opportunity.objects.exists()


def test_update_cannot_blank_a_field_the_current_stage_requires(sales, rep_customer, stages):
    opp = _opportunity(sales, rep_customer, expected_amount="100", expected_close_date="2026-10-01")
    opportunity_move(actor=sales, opportunity=opp, stage=stages["方案报价"])
    with pytest.raises(DomainError) as exc:
        opportunity_update(actor=sales, opportunity=opp, data={"expected_amount": ""})
    assert exc.value.field == "expected_amount"
    opp.refresh_from_db()
    assert opp.expected_amount == Decimal("100.00")

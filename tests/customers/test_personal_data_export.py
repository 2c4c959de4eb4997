"""The personal-data export (PIPL / GDPR) holds everything stored about the person, in every app, and no model with
a foreign key to the customer can be left out of it unnoticed."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from fidelis.accounts.models import AuditEntry
from fidelis.customers.models import Customer
from fidelis.customers.privacy import NOT_PERSONAL_DATA, customer_personal_data_export, personal_data_sections
from fidelis.customers.services import consent_set, customer_create
from fidelis.loyalty.models import Reward, RewardKind
from fidelis.loyalty.services import coupon_issue, member_enrol, points_adjust, reward_redeem
from fidelis.loyalty.templates import starter_program
from fidelis.pipeline.services import contract_create, opportunity_create
from fidelis.sales.services import category_save, order_create, order_refund, product_save, store_save
from fidelis.work.services import task_create

pytestmark = pytest.mark.django_db


def _models_pointing_at_the_customer() -> set[str]:
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if field.concrete and field.is_relation and field.related_model is Customer:
                found.add(model._meta.label_lower)
    return found


def test_every_model_with_a_foreign_key_to_the_customer_is_exported_or_named_internal():
    # given the models of every installed app that point at a customer
    pointing = _models_pointing_at_the_customer()
    # when the sections say which models they hold
    covered = set().union(*(section.models for section in personal_data_sections()))
    # then none is forgotten (a new app's model must get a section, or a reason in NOT_PERSONAL_DATA)
    assert pointing - covered - set(NOT_PERSONAL_DATA) == set()
    assert {"loyalty.member", "loyalty.coupon", "sales.order", "pipeline.opportunity", "pipeline.contract",
            "work.task", "events.event", "customers.consent"} <= pointing
    assert set(NOT_PERSONAL_DATA) <= pointing, "a model named internal no longer points at the customer"


def test_sections_are_registered_by_their_apps_once_each():
    keys = [section.key for section in personal_data_sections()]
    assert keys[:6] == ["customer", "tags", "consents", "contacts", "events", "merged_records"]
    assert {"loyalty", "sales", "pipeline", "work"} <= set(keys) and len(keys) == len(set(keys))


@pytest.fixture
def li(manager):
    """A customer with a history in every app: club membership, points, a reward, coupons, an order with a
    refund, an opportunity, a contract and a task."""
    customer = customer_create(actor=manager, data={"name": "李娜", "phone": "13700137000"}, tags=["VIP"])
    consent_set(actor=manager, customer=customer, channel="wechat", granted=True, source="公众号")
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    product_save(actor=manager, data={"sku": "CF-001", "name": "美式咖啡", "list_price": Decimal("28.00"),
                                      "category": category_save(actor=manager, data={"name": "咖啡"})})
    program = starter_program(actor=manager, name="星河会员俱乐部")
    member, _new = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    points_adjust(actor=manager, member=member, points=1500, reason="开业补偿")
    reward_redeem(actor=manager, member=member,
                  reward=Reward.objects.get(program=program, kind=RewardKind.COUPON))
    coupon_issue(actor=manager, template=program.coupon_templates.order_by("name").first(), customer=customer)
    order = order_create(actor=manager, customer=customer, lines=[{"sku": "CF-001", "quantity": 2}],
                         channel="store", store="1F-01", payment_method="cash", order_no="SO-LI-1")
    order_refund(actor=manager, order=order, amount="28.00", reason="多买了一杯",
                 lines=[{"sku": "CF-001", "quantity": 1}])
    opportunity_create(actor=manager, customer=customer, title="年会团购", expected_amount="5000")
    contract_create(actor=manager, customer=customer, number="HT-LI-1", amount="12000.50",
                    start_date="2026-01-01", end_date="2026-12-31")
    task_create(actor=manager, title="回访李娜", due_at=timezone.now() + timedelta(days=1), customer=customer)
    return customer


def test_customer_personal_data_export_holds_what_every_app_stores_about_the_person(manager, li):
    # when
    data = customer_personal_data_export(actor=manager, customer=li)
    # then: the archive's own sections
    assert data["customer"]["name"] == "李娜" and data["customer"]["archived_at"] is None and data["tags"] == ["VIP"]
    assert data["consents"][0]["channel"] == "wechat"
    # the club: membership, its points ledger and redemption, and the coupons
    (membership,) = data["loyalty"]["memberships"]
    assert membership["program"] == "星河会员俱乐部" and membership["balance"] == 500
    kinds = [(e["kind"], e["points"]) for e in membership["points_entries"]]
    assert ("adjust", 1500) in kinds and ("redeem", -1000) in kinds
    assert membership["redemptions"][0]["points"] == 1000 and membership["redemptions"][0]["coupon"]
    codes = {c["code"] for c in data["loyalty"]["coupons"]}
    assert membership["redemptions"][0]["coupon"] in codes and len(codes) == 2
    # orders with their lines and refunds, money as text
    (order,) = data["sales"]["orders"]
    assert order["order_no"] == "SO-LI-1" and order["paid_amount"] == "56.00"
    assert order["lines"][0]["sku"] == "CF-001" and order["lines"][0]["quantity"] == 2
    assert order["refunds"][0]["amount"] == "28.00" and order["refunds"][0]["lines"] == [
        {"sku": "CF-001", "quantity": 1}]
    # opportunities, contracts and tasks
    assert data["pipeline"]["opportunities"][0]["title"] == "年会团购"
    assert data["pipeline"]["opportunities"][0]["expected_amount"] == "5000.00"
    assert data["pipeline"]["contracts"][0]["number"] == "HT-LI-1"
    assert data["pipeline"]["contracts"][0]["start_date"] == "2026-01-01"
    assert data["work"]["tasks"][0]["title"] == "回访李娜"
    # plain JSON as it is: no default= needed for dates or decimals
    json.dumps(data, ensure_ascii=False)
    entry = AuditEntry.objects.get(action="customer.personal_export")
    assert entry.object_id == li.public_id
    assert {"loyalty", "sales", "pipeline", "work"} <= set(entry.changes["sections"][1])


def test_customer_personal_data_export_of_another_customer_holds_none_of_their_records(manager, li):
    other = customer_create(actor=manager, data={"name": "王强"})
    data = customer_personal_data_export(actor=manager, customer=other)
    assert data["loyalty"] == {"memberships": [], "coupons": []} and data["sales"] == {"orders": []}
    assert data["pipeline"] == {"opportunities": [], "contracts": []} and data["work"] == {"tasks": []}


def test_person_export_view_downloads_every_section(client_for, manager, li):
    response = client_for(manager).get(f"/customers/{li.public_id}/privacy/export/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["sales"]["orders"][0]["order_no"] == "SO-LI-1" and data["work"]["tasks"]

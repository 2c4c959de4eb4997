"""The timeline's sentences are made when shown, in the viewer's language: the same events read in Chinese, then
in English after the viewer switches, on the 360° page's timeline and in the API."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.services import api_token_create
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.services import consent_set, customer_tag_add, customer_update
from fidelis.events.models import Event
from fidelis.events.services import record_event
from fidelis.loyalty import ledger
from fidelis.loyalty.models import CouponTemplate
from fidelis.loyalty.services import coupon_issue, coupon_redeem, member_enrol, points_adjust
from fidelis.loyalty.templates import starter_program
from fidelis.pipeline.services import contract_create, opportunity_create, opportunity_move, pipeline_default
from fidelis.sales.services import category_save, order_create, order_refund, product_save, store_save
from fidelis.work.services import interaction_log, task_complete, task_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(db):
    return CustomerFactory(name="李静", phone="+8613800138000")


@pytest.fixture
def viewer(client, manager):
    """The manager's browser: the page in Chinese (the default) until they pick English."""
    client.force_login(manager)
    return client


def _timeline(client, customer) -> str:
    response = client.get(reverse("customers:timeline", args=[customer.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def _zh_then_en(client, customer) -> tuple[str, str]:
    """Return the customer's timeline as the viewer sees it in Chinese, then after switching to English."""
    chinese = _timeline(client, customer)
    client.post(reverse("set_language"), {"language": "en"})
    return chinese, _timeline(client, customer)


def _api_lines(manager, customer, language: str) -> list[str]:
    """Return the `summary` of each event of the customer's timeline in the API, asked in `language`."""
    _token, raw = api_token_create(actor=manager, user=manager, name="lines", scopes=["customers:read"])
    response = Client().get(f"/api/customers/{customer.public_id}/events", HTTP_AUTHORIZATION=f"Bearer {raw}",
                            HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    return [item["summary"] for item in response.json()["items"]]


def _stored_summaries(customer) -> set[str]:
    return set(Event.objects.filter(customer=customer).values_list("summary", flat=True))


# --- customers ----------------------------------------------------------------------------------------------------


def test_customer_changed_fields_read_in_the_viewers_language(viewer, manager, customer):
    # given
    customer_update(actor=manager, customer=customer, data={
        "birthday": date(1990, 5, 1), "interests": "咖啡", "special_requests": "不要打电话"})
    # when
    chinese, english = _zh_then_en(viewer, customer)
    # then: the fields in the order of the form, nothing stored in words
    assert "<div>已修改：生日、兴趣爱好、特殊要求</div>" in chinese
    assert "<div>Changed: birthday, interests, special requests</div>" in english
    assert _stored_summaries(customer) == {""}


def test_customer_changed_fields_in_the_api_follow_accept_language(manager, customer):
    customer_update(actor=manager, customer=customer, data={"birthday": date(1990, 5, 1)})
    assert _api_lines(manager, customer, "zh-hans") == ["已修改：生日"]
    assert _api_lines(manager, customer, "en") == ["Changed: birthday"]


def test_tag_added_shows_the_tag_as_entered_under_the_translated_type(viewer, manager, customer):
    customer_tag_add(actor=manager, customer=customer, tag_name="渠道:抖音")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<strong>已添加标签</strong>" in chinese and "<div>渠道:抖音</div>" in chinese
    assert "<strong>Tag added</strong>" in english and "<div>渠道:抖音</div>" in english


def test_consent_names_the_channel_in_the_viewers_language(viewer, manager, customer):
    consent_set(actor=manager, customer=customer, channel="sms", granted=True, source="门店登记")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<div>短信 · 门店登记</div>" in chinese
    assert "<div>SMS · 门店登记</div>" in english


def test_merge_names_the_absorbed_record(viewer, manager, customer):
    other = CustomerFactory(name="李静", phone="+8613800138001")
    customers_merge(actor=manager, keep=customer, absorb=other)
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>已与记录 {other.number} 合并</div>" in chinese
    assert f"<div>Merged with record {other.number}</div>" in english


def test_an_old_event_without_the_facts_shows_its_stored_summary(viewer, customer):
    # given: an event written before its payload carried the facts, and an outside system's own text
    record_event(customer=customer, type="customer.merged", summary="已与记录 C1 合并")
    record_event(customer=customer, type="pos.visit", summary="Came by the till", channel="api")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<div>已与记录 C1 合并</div>" in english and "<div>Came by the till</div>" in chinese


# --- work -----------------------------------------------------------------------------------------------------------


def test_interaction_logged_shows_what_was_said(viewer, manager, customer):
    interaction_log(actor=manager, customer=customer, type="call.logged", channel="phone", outcome="reached",
                    text="想了解会员日活动")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<div>想了解会员日活动</div>" in chinese and "<div>想了解会员日活动</div>" in english
    assert "<strong>电话</strong>" in chinese or "电话" in chinese
    assert "<strong>Phone call</strong>" in english and "Talked to them" in english


def test_task_created_and_done_read_in_the_viewers_language(viewer, manager, customer):
    due = timezone.now() + timedelta(days=1)
    task = task_create(actor=manager, title="回访新品试用", due_at=due, customer=customer, recurrence_days=7)
    done = task_complete(actor=manager, task=task)
    chinese, english = _zh_then_en(viewer, customer)
    next_due = timezone.localtime(done.next_occurrence.due_at).strftime("%Y-%m-%d %H:%M")
    assert "<div>待办：回访新品试用</div>" in chinese and f"<div>已完成：回访新品试用 · 下次截止 {next_due}</div>" in chinese
    assert "<div>Task: 回访新品试用</div>" in english and f"<div>Done: 回访新品试用 · next due {next_due}</div>" in english


# --- sales ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def shop(manager):
    store = store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    category = category_save(actor=manager, data={"name": "女装"})
    product_save(actor=manager, data={"sku": "WF-101", "name": "真丝连衣裙", "category": category,
                                      "list_price": Decimal("3780.00")})
    return store


def _order(manager, customer, store, number="S-1"):
    return order_create(actor=manager, customer=customer, lines=[{"sku": "WF-101", "quantity": 1}],
                        channel="store", store=store, payment_method="wechat_pay", discount="100",
                        order_no=number)


def test_order_paid_reads_in_the_viewers_language_with_its_amount(viewer, manager, customer, shop):
    _order(manager, customer, shop)
    chinese, english = _zh_then_en(viewer, customer)
    assert '<span class="amount">¥3,680.00</span>' in chinese
    assert "<div>订单 S-1，优惠 ¥100.00</div>" in chinese
    assert "<strong>Purchase</strong>" in english and "<div>Order S-1, ¥100.00 off</div>" in english


def test_order_refunded_shows_the_amount_and_the_reason(viewer, manager, customer, shop):
    order = _order(manager, customer, shop)
    order_refund(actor=manager, order=order, amount="1200.50", reason="尺码不合适")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<div>订单 S-1 −¥1,200.50 · 尺码不合适</div>" in chinese
    assert "<div>Order S-1 −¥1,200.50 · 尺码不合适</div>" in english
    assert _api_lines(manager, customer, "en")[0] == "Order S-1 −¥1,200.50 · 尺码不合适"


# --- pipeline -------------------------------------------------------------------------------------------------------


def test_opportunity_moved_and_won_read_in_the_viewers_language(viewer, manager, customer):
    pipeline = pipeline_default()
    stages = list(pipeline.stages.order_by("order"))
    won = next(s for s in stages if s.kind == "won")
    opportunity = opportunity_create(actor=manager, customer=customer, title="年度团购", expected_amount="36800")
    opportunity_move(actor=manager, opportunity=opportunity, stage=stages[1],
                     data={"expected_close_date": "2027-01-31"})
    opportunity_move(actor=manager, opportunity=opportunity, stage=won,
                     data={"expected_close_date": "2027-01-31"})
    chinese, english = _zh_then_en(viewer, customer)
    move = f"年度团购：{stages[0].name} → {stages[1].name}"
    assert f"<div>{move}</div>" in chinese and "<div>赢单：年度团购，¥36,800.00</div>" in chinese
    assert f"<div>年度团购: {stages[0].name} → {stages[1].name}</div>" in english
    assert "<div>Won: 年度团购, ¥36,800.00</div>" in english


def test_contract_signed_reads_in_the_viewers_language(viewer, manager, customer):
    contract_create(actor=manager, customer=customer, number="HT-2026-001", amount="120000",
                    start_date="2026-01-01", end_date="2026-12-31")
    chinese, english = _zh_then_en(viewer, customer)
    assert "<div>合同 HT-2026-001，¥120,000.00，2026-01-01 至 2026-12-31</div>" in chinese
    assert "<div>Contract HT-2026-001, ¥120,000.00, 2026-01-01 to 2026-12-31</div>" in english


# --- loyalty --------------------------------------------------------------------------------------------------------


@pytest.fixture
def member(manager, customer, django_capture_on_commit_callbacks):
    program = starter_program(actor=manager, name="星河会员俱乐部")
    with django_capture_on_commit_callbacks(execute=True):
        member, _created = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    member.refresh_from_db()
    return member


def test_member_joined_reads_in_the_viewers_language(viewer, member, customer):
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>加入 星河会员俱乐部，会员编号 {member.number}</div>" in chinese
    assert f"<div>Joined 星河会员俱乐部 as {member.number}</div>" in english


def test_points_earned_and_adjusted_read_in_the_viewers_language(viewer, manager, member, customer):
    # given: the welcome points of the starter program, then a manager's correction
    balance = member.balance
    points_adjust(actor=manager, member=member, points=1200, reason="补偿排队")
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>获得积分 +{balance} 积分 · 余额 {balance}</div>" in chinese
    assert f"<div>手动调整 +1,200 积分 · 余额 {balance + 1200:,} · 补偿排队</div>" in chinese
    assert f"<div>Earned +{balance} 积分 · balance {balance}</div>" in english
    assert f"<div>Manual adjustment +1,200 积分 · balance {balance + 1200:,} · 补偿排队</div>" in english


def test_points_expired_read_in_the_viewers_language(viewer, member, customer):
    balance = member.balance
    with transaction.atomic():
        ledger.expire_due(ledger.lock_member(member.pk), now=timezone.now() + timedelta(days=3 * 366))
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>积分过期 −{balance} 积分 · 余额 0</div>" in chinese
    assert f"<div>Expired −{balance} 积分 · balance 0</div>" in english


def test_tier_change_reads_in_the_viewers_language(viewer, member, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_event(customer=customer, type="order.paid", payload={"amount": "3500.00", "order_no": "G1"})
    member.refresh_from_db()
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>升级为 {member.tier.name}</div>" in chinese
    assert f"<div>Upgraded to {member.tier.name}</div>" in english


def test_coupon_issued_and_used_read_in_the_viewers_language(viewer, manager, member, customer):
    template = CouponTemplate.objects.filter(program=member.program).order_by("pk").first()
    with transaction.atomic():
        coupon = coupon_issue(actor=manager, template=template, customer=customer)
    coupon_redeem(actor=manager, code=coupon.code, order_ref="S-9", order_amount=Decimal("300"), customer=customer)
    chinese, english = _zh_then_en(viewer, customer)
    assert f"<div>已发放优惠券 {template.name}</div>" in chinese
    assert f"<div>优惠券 {template.name} 已在订单 S-9 核销</div>" in chinese
    assert f"<div>Coupon {template.name} issued</div>" in english
    assert f"<div>Coupon {template.name} used on order S-9</div>" in english


# --- cost -----------------------------------------------------------------------------------------------------------


def test_rendering_the_lines_runs_no_query_per_event(viewer, manager, customer):
    # given: one event of each kind the archive records, then many more
    customer_update(actor=manager, customer=customer, data={"interests": "咖啡"})
    customer_tag_add(actor=manager, customer=customer, tag_name="VIP")
    consent_set(actor=manager, customer=customer, channel="email", granted=True, source="官网")
    _timeline(viewer, customer)  # the first request warms the session and the template caches
    with CaptureQueriesContext(connection) as few:
        _timeline(viewer, customer)
    for n in range(20):
        customer_tag_add(actor=manager, customer=customer, tag_name=f"标签{n}")
        customer_update(actor=manager, customer=customer, data={"city": f"城市{n}"})
    # when
    with CaptureQueriesContext(connection) as many:
        html = _timeline(viewer, customer)
    # then: as many queries for 30 events as for 3
    assert html.count('<li class="event"') == 30
    assert len(many.captured_queries) == len(few.captured_queries)

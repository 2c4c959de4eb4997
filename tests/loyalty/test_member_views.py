"""The member club in the UI: overview KPIs, member list and page, enrol, adjust, redeem, the 360° panel."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.events.services import record_event
from fidelis.loyalty.handlers import apply_event
from fidelis.loyalty.models import Member, PointsEntry, Reward
from fidelis.loyalty.selectors import program_kpis
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _pay(customer, amount, order_no):
    event, _new = record_event(customer=customer, type="order.paid", payload={"amount": amount, "order_no": order_no})
    apply_event(event.pk)


def test_program_page_numbers_match_the_ledger(client, program, member, manager):
    _pay(member.customer, "1200.00", "V1")
    other = CustomerFactory()
    _pay(other, "50.00", "N1")
    _pay(other, "60.00", "N2")
    client.force_login(manager)
    page = client.get(reverse("loyalty:program")).content.decode()
    kpis = program_kpis(program)
    assert kpis.issued == 1700 == sum(PointsEntry.objects.filter(points__gt=0).values_list("points", flat=True))
    assert 'data-kpi="issued">1,700<' in page or 'data-kpi="issued">1700<' in page
    assert kpis.repeat_others == 1.0 and kpis.repeat_members == 0.0
    assert "星河会员俱乐部" in page
    assert all(rule.name in page for rule in program.rules.all())


def test_customer_panel_offers_to_join_and_joining_gives_the_welcome_points(client, program, manager):
    customer = CustomerFactory(name="周敏")
    client.force_login(manager)
    panel = client.get(reverse("customers:panels", args=[customer.public_id])).content.decode()
    assert 'id="member-enrol"' in panel
    response = client.post(reverse("loyalty:member_enrol", args=[customer.public_id]))
    member = Member.objects.get(customer=customer)
    assert response.status_code == 302 and response["Location"] == reverse("loyalty:member_detail",
                                                                          args=[member.public_id])
    page = client.get(response["Location"]).content.decode()
    assert 'id="member-balance">500<' in page


def test_adjust_needs_a_reason_and_cannot_overdraw(client, member, manager):
    client.force_login(manager)
    url = reverse("loyalty:member_adjust", args=[member.public_id])
    assert client.post(url, {"points": "10", "reason": ""}).status_code == 400
    response = client.post(url, {"points": "-900", "reason": "更正"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.balance == 500
    assert client.post(url, {"points": "-100", "reason": "更正"}).status_code == 302
    member.refresh_from_db()
    assert member.balance == 400


def test_redeem_a_coupon_reward_from_the_member_page(client, program, member, manager):
    client.force_login(manager)
    parking = Reward.objects.get(program=program, points_cost=200)
    client.post(reverse("loyalty:member_redeem", args=[member.public_id]), {"reward": parking.public_id})
    member.refresh_from_db()
    assert member.balance == 300


def test_a_sales_rep_cannot_open_another_reps_member(client, program, manager):
    from fidelis.loyalty.services import member_enrol

    rep, other = UserFactory(username="rep1", role=Role.SALES), UserFactory(username="rep2", role=Role.SALES)
    theirs, _new = member_enrol(actor=manager, program=program, customer=CustomerFactory(owner=other))
    client.force_login(rep)
    assert client.get(reverse("loyalty:member_detail", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("loyalty:member_redeem", args=[theirs.public_id])).status_code == 404
    listing = client.get(reverse("loyalty:members")).content.decode()
    assert theirs.number not in listing


def test_member_list_finds_by_phone_and_number(client, member, manager):
    client.force_login(manager)
    assert member.number in client.get(reverse("loyalty:members"), {"q": "8000"}).content.decode()
    assert member.number in client.get(reverse("loyalty:members"), {"q": member.number}).content.decode()
    assert member.number not in client.get(reverse("loyalty:members"), {"q": "9999"}).content.decode()

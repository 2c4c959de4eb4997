"""The member-club panel of the customer 360° page."""

from django.urls import reverse

from fidelis.loyalty.models import Program
from fidelis.loyalty.services import member_enrol
from tests.factories import CustomerFactory


def test_customer_panel_shows_the_member_in_few_queries(client_for, member, manager, django_assert_max_num_queries):
    # given a member of the default program
    client = client_for(manager)
    url = reverse("loyalty:customer_panel", args=[member.customer.public_id])
    # when the panel loads, then it reads the session, customer, member (with tier and program), tiers, spend
    # towards the next tier, coupons and latest points: the program is not read again
    with django_assert_max_num_queries(7):
        panel = client.get(url).content.decode()
    # then it shows the member's number and balance
    assert member.number in panel and 'data-testid="panel-balance"' in panel


def test_customer_panel_offers_the_default_program_to_a_member_of_another(client_for, program, manager):
    # given a customer who is a member of a newer program only
    newer = Program.objects.create(name="第二俱乐部", is_active=True)
    customer = CustomerFactory(name="周敏")
    member_enrol(actor=manager, program=newer, customer=customer, channel="store")
    # when the panel loads
    panel = client_for(manager).get(reverse("loyalty:customer_panel", args=[customer.public_id])).content.decode()
    # then it offers to join the default (oldest active) program
    assert 'id="member-enrol"' in panel and program.name in panel

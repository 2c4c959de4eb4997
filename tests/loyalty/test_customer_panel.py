"""The member-club panel of the customer 360° page."""

from django.template.loader import render_to_string
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.loyalty.models import Program
from fidelis.loyalty.panels import member_panel
from fidelis.loyalty.services import member_enrol
from tests.factories import CustomerFactory, UserFactory


def test_customer_panel_shows_the_member_in_few_queries(member, manager, rf, django_assert_max_num_queries):
    # given a member of the default program, and the customer as the 360° page's cards have read it
    customer = member.customer
    request = rf.get("/")
    request.user = manager
    # when the card is made, then it reads the member (with tier and program), tiers, spend towards the next tier,
    # coupons and latest points: neither the customer nor the program is read again
    with django_assert_max_num_queries(5):
        context = member_panel(request, customer)
    # then it shows the member's number and balance
    panel = render_to_string("loyalty/_customer_panel.html", context, request)
    assert member.number in panel and 'data-testid="panel-balance"' in panel


def test_customer_panel_offers_the_default_program_to_a_member_of_another(client_for, program, manager):
    # given a customer who is a member of a newer program only
    newer = Program.objects.create(name="第二俱乐部", is_active=True)
    customer = CustomerFactory(name="周敏")
    member_enrol(actor=manager, program=newer, customer=customer, channel="store")
    # when the panel loads
    panel = client_for(manager).get(reverse("customers:panels", args=[customer.public_id])).content.decode()
    # then it offers to join the default (oldest active) program
    assert 'id="member-enrol"' in panel and program.name in panel


def test_customer_panel_of_a_customer_the_user_does_not_see_is_not_found(client_for, member, sales):
    # given a member whose customer belongs to another sales rep
    member.customer.owner = UserFactory(role=Role.SALES)
    member.customer.save()
    # when a sales rep who does not see the customer asks for the panel, then it is not found
    response = client_for(sales).get(reverse("customers:panels", args=[member.customer.public_id]))
    assert response.status_code == 404

import pytest

from fidelis.loyalty.templates import starter_program
from tests.factories import CustomerFactory


@pytest.fixture
def program(manager):
    """The starter program: four spend tiers, a welcome coupon, rewards and the five seed rules, live."""
    return starter_program(actor=manager, name="星河会员俱乐部")


@pytest.fixture
def customer(db):
    return CustomerFactory(name="李静", phone="+8613800138000")


@pytest.fixture
def member(program, customer, manager):
    from fidelis.loyalty.services import member_enrol

    member, _created = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    member.refresh_from_db()
    return member

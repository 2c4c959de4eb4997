from datetime import timedelta

import pytest
from django.utils import timezone

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from tests.factories import UserFactory


@pytest.fixture
def rep2(db):
    """A second sales rep, with an e-mail address."""
    return UserFactory(username="sales2", role=Role.SALES, email="sales2@example.cn", display_name="张婷")


@pytest.fixture
def my_customer(manager, sales):
    """A customer owned by the sales rep."""
    return customer_create(actor=manager, data={"name": "李太太", "phone": "13900139000"}, owner=sales)


@pytest.fixture
def other_customer(manager, rep2):
    """A customer owned by another rep: the first rep may not see it."""
    return customer_create(actor=manager, data={"name": "王先生", "phone": "13900139001"}, owner=rep2)


@pytest.fixture
def soon():
    """A due time later today-ish: two hours from now."""
    return timezone.now() + timedelta(hours=2)

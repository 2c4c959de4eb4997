import pytest

from fidelis.customers.models import LifecycleStage
from fidelis.events.services import record_event
from tests.factories import CustomerFactory


@pytest.mark.django_db(transaction=True)
def test_advance_lifecycle_stage_moves_forward_on_order_paid():
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.FOLLOWER)
    record_event(customer=customer, type="order.paid", payload={"amount": "88.00"})
    customer.refresh_from_db()
    assert customer.lifecycle_stage == LifecycleStage.BUYER


@pytest.mark.django_db(transaction=True)
def test_advance_lifecycle_stage_never_moves_back():
    customer = CustomerFactory(lifecycle_stage=LifecycleStage.LOYAL)
    record_event(customer=customer, type="wechat.followed")
    customer.refresh_from_db()
    assert customer.lifecycle_stage == LifecycleStage.LOYAL

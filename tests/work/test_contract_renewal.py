"""The renewal to-do: work reacts to a pipeline's `contract.expiring` event with one task for the contract's owner."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from fidelis.events.services import record_event
from fidelis.pipeline.services import contract_create, contract_terminate
from fidelis.work.models import Task
from fidelis.work.rules import contract_renewal_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(sales, my_customer):
    today = date.today()
    return contract_create(actor=sales, customer=my_customer, number="HT-RENEW", amount="12000",
                           payment_method="transfer", start_date=today - timedelta(days=300),
                           end_date=today + timedelta(days=20))


def _announce(contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event, _new = record_event(customer=contract.customer, type="contract.expiring",
                                   payload={"contract": contract.public_id, "number": contract.number,
                                            "end_date": contract.end_date.isoformat()})
    return event


def test_contract_expiring_gives_the_owner_one_renewal_task_a_week_before_the_end(
        contract, sales, my_customer, django_capture_on_commit_callbacks):
    # when the pipeline announces the contract's end
    event = _announce(contract, django_capture_on_commit_callbacks)
    # then the owner has a task on the contract, due a week before its end at 10:00
    task = Task.objects.get()
    assert (task.owner, task.customer, task.related_object) == (sales, my_customer, contract)
    assert "HT-RENEW" in task.title and task.remind_at is not None
    due_day = contract.end_date - timedelta(days=7)
    assert task.due_at == timezone.make_aware(datetime.combine(due_day, time(10, 0)))
    # and handling the same event again opens no second task
    assert contract_renewal_task(event.pk) is None
    assert Task.objects.count() == 1


def test_contract_expiring_after_the_contract_was_terminated_opens_no_task(
        contract, sales, django_capture_on_commit_callbacks):
    # given the contract ended early
    contract_terminate(actor=sales, contract=contract, reason="客户搬迁")
    # when its end is announced
    _announce(contract, django_capture_on_commit_callbacks)
    # then nobody is asked to renew it
    assert not Task.objects.exists()

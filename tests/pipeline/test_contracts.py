"""Contract services: create, update, renew, terminate, the expiry reminder task, and bad input."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from fidelis.core.errors import DomainError, NotFound
from fidelis.events.models import Event
from fidelis.pipeline.models import Contract, ContractStatus
from fidelis.pipeline.selectors import contract_get_for_user
from fidelis.pipeline.services import contract_create, contract_renew, contract_terminate, contract_update
from fidelis.pipeline.tasks import contract_expiry_reminders
from fidelis.work.models import Task
from tests.pipeline.fixtures import rep2_customer_fixture, rep2_fixture, rep_customer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def _contract(actor, customer, **extra):
    data = {"number": "HT-2026-001", "amount": "36000", "payment_method": "transfer", "start_date": "2026-01-01",
            "end_date": "2026-12-31"} | extra
    return contract_create(actor=actor, customer=customer, **data)


def test_contract_create_records_the_contract_and_a_signed_event(sales, rep_customer):
    contract = _contract(sales, rep_customer)
    contract.refresh_from_db()
    assert (contract.number, contract.amount, contract.status, contract.owner) == (
        "HT-2026-001", Decimal("36000.00"), ContractStatus.ACTIVE, sales)
    assert contract.signed_at is not None
    assert Event.objects.filter(customer=rep_customer, type="contract.signed").count() == 1


def test_contract_number_reused_is_refused_and_writes_nothing(sales, rep_customer):
    _contract(sales, rep_customer)
    with pytest.raises(DomainError) as exc:
        _contract(sales, rep_customer, number=" ht-2026-001 ")
    assert exc.value.field == "number" and exc.value.code == "duplicate_contract_no"
    assert Contract.objects.count() == 1 and Event.objects.filter(type="contract.signed").count() == 1


@pytest.mark.parametrize(("field", "value"), [("start_date", "2026-02-30"), ("end_date", "31/12/2026"),
                                              ("amount", "-1"), ("amount", "abc"), ("payment_method", "bitcoin")])
def test_contract_bad_input_names_the_field_and_writes_nothing(sales, rep_customer, field, value):
    with pytest.raises(DomainError) as exc:
        _contract(sales, rep_customer, **{field: value})
    assert exc.value.field == field and not Contract.objects.exists()


def test_contract_ending_before_it_starts_is_refused(sales, rep_customer):
    with pytest.raises(DomainError) as exc:
        _contract(sales, rep_customer, start_date="2026-06-01", end_date="2026-05-31")
    assert exc.value.field == "end_date" and not Contract.objects.exists()


def test_contract_update_changes_fields_and_refuses_bad_dates(sales, rep_customer):
    contract = _contract(sales, rep_customer)
    contract_update(actor=sales, contract=contract, data={"amount": "40000", "notes": "含安装"})
    contract.refresh_from_db()
    assert contract.amount == Decimal("40000.00") and contract.notes == "含安装"
    with pytest.raises(DomainError):
        contract_update(actor=sales, contract=contract, data={"end_date": "2025-01-01"})
    contract.refresh_from_db()
    assert contract.end_date == date(2026, 12, 31)


def test_contract_renew_creates_the_next_contract_and_marks_the_old_renewed(sales, rep_customer):
    old = _contract(sales, rep_customer)
    new = contract_renew(actor=sales, contract=old, number="HT-2027-001", amount="38000")
    old.refresh_from_db()
    assert old.status == ContractStatus.RENEWED and new.renewal_of == old
    assert (new.start_date, new.end_date, new.amount) == (date(2027, 1, 1), date(2027, 12, 31), Decimal("38000.00"))
    assert Event.objects.filter(type="contract.renewed").count() == 1
    with pytest.raises(DomainError):
        contract_renew(actor=sales, contract=old, number="HT-2028-001")


def test_contract_terminate_needs_a_reason(sales, rep_customer):
    contract = _contract(sales, rep_customer)
    with pytest.raises(DomainError):
        contract_terminate(actor=sales, contract=contract, reason=" ")
    contract_terminate(actor=sales, contract=contract, reason="客户搬迁")
    contract.refresh_from_db()
    assert contract.status == ContractStatus.TERMINATED and contract.terminated_at
    assert Event.objects.filter(type="contract.terminated").count() == 1


def test_rep_gets_not_found_on_another_reps_contract(sales, rep2, rep2_customer):
    contract = _contract(rep2, rep2_customer)
    with pytest.raises(NotFound):
        contract_get_for_user(sales, contract.public_id)
    with pytest.raises(NotFound):
        contract_update(actor=sales, contract=contract, data={"amount": "1"})


def test_expiry_reminder_task_creates_one_task_for_the_owner_exactly_once(
        sales, manager, rep_customer, settings, django_capture_on_commit_callbacks):
    # given: one contract ending in 20 days, one in 60 days
    settings.FIDELIS_CONTRACT_REMINDER_DAYS = 30
    today = date.today()
    soon = _contract(sales, rep_customer, number="HT-SOON", start_date=today - timedelta(days=300),
                     end_date=today + timedelta(days=20))
    _contract(sales, rep_customer, number="HT-LATER", start_date=today, end_date=today + timedelta(days=60))
    # when: the beat task runs twice (work reacts to the contract.expiring event after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        first = contract_expiry_reminders()
    with django_capture_on_commit_callbacks(execute=True):
        second = contract_expiry_reminders()
    # then: one announcement, and one task for the owner, linked to the contract
    assert first["reminders"] == 1 and second["reminders"] == 0
    event = Event.objects.get(type="contract.expiring")
    assert event.customer == rep_customer and event.payload["number"] == "HT-SOON"
    task = Task.objects.get()
    assert task.owner == sales and task.customer == rep_customer and task.related_object == soon
    assert "HT-SOON" in task.title and task.remind_at is not None
    soon.refresh_from_db()
    assert soon.expiry_reminded_at is not None


def test_expiry_task_marks_ended_contracts_expired(sales, rep_customer):
    today = date.today()
    ended = _contract(sales, rep_customer, number="HT-OLD", start_date=today - timedelta(days=400),
                      end_date=today - timedelta(days=1))
    result = contract_expiry_reminders()
    ended.refresh_from_db()
    assert result["expired"] == 1 and ended.status == ContractStatus.EXPIRED
    assert not Task.objects.exists()

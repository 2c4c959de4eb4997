"""The customer rule of `customer_visible_qs` is the one every read keeps: the hand-written `customer_get_for_user`
and the tasks' selector agree with it for every role and every kind of record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fidelis.accounts.models import Role
from fidelis.core.errors import NotFound
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.privacy import customer_erase
from fidelis.customers.selectors import customer_get_for_user, customer_visible_qs
from fidelis.customers.services import customer_create
from fidelis.work.models import Task
from fidelis.work.selectors import sees_all_tasks, task_visible_qs
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(manager, sales):
    """One customer of each kind, seen from the sales rep: theirs, another rep's, unassigned, merged, erased."""
    rep2 = UserFactory(username="sales2", role=Role.SALES)
    kept = customer_create(actor=manager, data={"name": "留下的", "phone": "13700137010"}, owner=sales)
    merged = customer_create(actor=manager, data={"name": "并走的", "phone": "13700137011"}, owner=sales)
    customers_merge(actor=manager, keep=kept, absorb=merged)
    return {
        "own": customer_create(actor=manager, data={"name": "自己的"}, owner=sales),
        "other_rep": customer_create(actor=manager, data={"name": "别人的"}, owner=rep2),
        "unassigned": customer_create(actor=manager, data={"name": "无主的"}),
        "merged": merged,
        "erased": customer_erase(actor=manager, customer=customer_create(actor=manager, data={"name": "删掉的"},
                                                                            owner=sales), reason="本人要求"),
    }


def _visible_by_selector(user, customer) -> bool:
    return customer_visible_qs(user).filter(pk=customer.pk).exists()


@pytest.mark.parametrize("role", Role.values)
def test_customer_get_for_user_sees_exactly_what_customer_visible_qs_sees(users, records, role):
    user = users[role]
    for kind, customer in records.items():
        try:
            customer_get_for_user(user, customer.public_id)
            found = True
        except NotFound:
            found = False
        assert found == _visible_by_selector(user, customer), (role, kind)
    assert _visible_by_selector(user, records["other_rep"]) == (role != Role.SALES)
    assert not _visible_by_selector(user, records["merged"])


@pytest.mark.parametrize("role", [role for role in Role.values if role != Role.READONLY])  # who may own tasks
def test_a_users_task_about_a_customer_is_visible_exactly_when_the_customer_is(users, manager, records, role):
    # given: a task of the user about each kind of customer (written as rows: a merge moves tasks, and a rep
    # cannot be given a task about a customer they may not see)
    user = users[role]
    due = timezone.now() + timedelta(days=1)
    tasks = {kind: Task.objects.create(title=kind, owner=user, created_by=manager, customer=customer, due_at=due)
             for kind, customer in records.items()}
    # then
    for kind, task in tasks.items():
        visible = task_visible_qs(user).filter(pk=task.pk).exists()
        expected = sees_all_tasks(user) or _visible_by_selector(user, records[kind])
        assert visible == expected, (role, kind)

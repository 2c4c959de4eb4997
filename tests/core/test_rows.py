"""Hand-written reads (fidelis.core.rows) give the same instances as the ORM."""

from datetime import date

import pytest
from django.db.models import Model

from fidelis.accounts.models import Role
from fidelis.core.errors import NotFound
from fidelis.customers.dedupe import customers_merge
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_get_for_user, customer_visible_qs
from fidelis.customers.services import customer_create


def _values(obj: Model) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_customer_get_for_user_reads_what_the_orm_reads_with_its_owner(users):
    manager, rep = users[Role.MANAGER], users[Role.SALES]
    customer = customer_create(actor=manager, data={
        "name": "李四", "phone": "13800138000", "email": "li@example.cn", "birthday": date(1990, 5, 6),
        "city": "上海", "notes": "第一行\n第二行"}, owner=rep)
    got = customer_get_for_user(manager, customer.public_id)
    expected = customer_visible_qs(manager).select_related("owner").get(pk=customer.pk)
    assert _values(got) == _values(expected)
    assert got.created_at.tzinfo is not None and got.birthday == date(1990, 5, 6)
    assert got.owner == rep and _values(got.owner) == _values(expected.owner)
    assert not got._state.adding and got._state.db == expected._state.db
    got.save()  # an instance like any other
    unowned = customer_create(actor=manager, data={"name": "王五"})
    assert customer_get_for_user(manager, unowned.public_id).owner is None


@pytest.mark.django_db
def test_customer_get_for_user_hides_other_reps_customers_and_merged_ones(users):
    manager, rep = users[Role.MANAGER], users[Role.SALES]
    other = customer_create(actor=manager, data={"name": "赵六"}, owner=manager)
    with pytest.raises(NotFound):
        customer_get_for_user(rep, other.public_id)
    assert customer_get_for_user(manager, other.public_id).pk == other.pk
    kept = customer_create(actor=manager, data={"name": "赵六", "phone": "13900139000"})
    customers_merge(actor=manager, keep=kept, absorb=other)
    assert Customer.objects.get(pk=other.pk).merged_into_id == kept.pk
    with pytest.raises(NotFound):
        customer_get_for_user(manager, other.public_id)
    with pytest.raises(NotFound):
        customer_get_for_user(manager, "no-such-id")

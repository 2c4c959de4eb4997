"""customer_create and customer_update: WeChat ids and owners change, and a second record of a phone or e-mail
is refused unless the user confirms it."""

import pytest
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import Conflict
from fidelis.customers.dedupe import customer_duplicate_of
from fidelis.customers.models import Customer, DuplicateCandidate, DuplicateStatus
from fidelis.customers.services import customer_create, customer_update
from fidelis.events.models import Event
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def zhang(manager):
    return customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "email": "zs@example.cn"})


# --- customer_update -------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_customer_update_of_the_wechat_id_is_saved_audited_and_on_the_timeline(manager, zhang):
    # when
    customer_update(actor=manager, customer=zhang, data={"wechat_id": "zhangsan_wx"})
    # then
    zhang.refresh_from_db()
    assert zhang.wechat_id == "zhangsan_wx"
    entry = AuditEntry.objects.get(action="customer.update", object_id=zhang.public_id)
    assert entry.changes == {"wechat_id": ["", "zhangsan_wx"]}
    event = Event.objects.get(customer=zhang, type="customer.updated")
    assert event.payload == {"fields": ["wechat_id"]}
    assert str(Customer._meta.get_field("wechat_id").verbose_name) in event.line


@pytest.mark.django_db
def test_customer_update_of_the_owner_names_the_owner_on_the_timeline(manager, sales, zhang):
    customer_update(actor=manager, customer=zhang, data={"owner": sales, "wechat_id": "zs"})
    event = Event.objects.get(customer=zhang, type="customer.updated")
    assert event.payload == {"fields": ["owner_id", "wechat_id"]}
    assert all(str(Customer._meta.get_field(name).verbose_name) in event.line for name in ("owner", "wechat_id"))
    assert Customer.objects.get(pk=zhang.pk).owner == sales


# --- customer_create: duplicates -------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("data, field", [
    ({"phone": "+86 138-0013-8000"}, "phone"),
    ({"phone": "13900139000", "phone_alt": "138 0013 8000"}, "phone_alt"),
    ({"email": " ZS@Example.cn"}, "email"),
])
def test_customer_create_with_the_phone_or_email_of_a_customer_is_refused_naming_it(manager, zhang, data, field):
    # when
    with pytest.raises(Conflict) as refused:
        customer_create(actor=manager, data={"name": "张小三", **data})
    # then: the field and the stored customer are named, nothing is written
    assert refused.value.code == "duplicate_customer" and refused.value.field == field
    assert refused.value.params["existing"] == {"public_id": zhang.public_id, "number": zhang.number, "name": "张三"}
    assert zhang.number in str(refused.value.message)
    assert Customer.objects.count() == 1
    assert AuditEntry.objects.filter(action="customer.create").count() == 1


@pytest.mark.django_db
def test_customer_create_matches_a_stored_other_phone_too(manager):
    stored = CustomerFactory(name="李四", phone="+8613700137000", phone_alt="+8613800138000")
    with pytest.raises(Conflict) as refused:
        customer_create(actor=manager, data={"name": "张三", "phone": "13800138000"})
    assert refused.value.field == "phone" and refused.value.params["existing"]["public_id"] == stored.public_id


@pytest.mark.django_db
def test_customer_create_confirmed_duplicate_is_saved_audited_and_listed_for_review(manager, zhang):
    # when
    twin = customer_create(actor=manager, data={"name": "张三", "phone": "138 0013 8000"}, allow_duplicate=True)
    # then
    assert Customer.objects.count() == 2
    entry = AuditEntry.objects.get(action="customer.create", object_id=twin.public_id)
    assert entry.changes["duplicate_of"] == [None, zhang.number]
    pair = DuplicateCandidate.objects.get()
    assert (pair.customer_id, pair.other_id, pair.reason, pair.status) == (zhang.pk, twin.pk, "phone",
                                                                           DuplicateStatus.OPEN)


@pytest.mark.django_db
def test_customer_create_ignores_merged_and_erased_customers(manager):
    # given: a merged record and an erased one with the phone and e-mail
    kept = CustomerFactory(name="王五", phone="+8613600136000")
    CustomerFactory(name="张三", phone="+8613800138000", email="zs@example.cn", merged_into=kept)
    CustomerFactory(name="张三", phone="+8613800138000", email="zs@example.cn", erased_at=timezone.now())
    # when
    created = customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "email": "zs@example.cn"})
    # then
    assert Customer.objects.filter(pk=created.pk).exists()
    assert customer_duplicate_of(created) is None
    assert "duplicate_of" not in AuditEntry.objects.get(action="customer.create").changes
    assert not DuplicateCandidate.objects.exists()


@pytest.mark.django_db
def test_customer_create_without_phone_or_email_is_not_a_duplicate(manager, zhang):
    customer_create(actor=manager, data={"name": "张三"})
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_customer_create_by_sales_rep_names_only_the_owner_of_a_customer_they_may_not_see(users, manager):
    # given: the customer of another rep
    colleague = UserFactory(username="li", role=Role.SALES, display_name="李经理")
    theirs = customer_create(actor=manager, owner=colleague,
                             data={"name": "赵六", "phone": "13800138000", "email": "zl@example.cn"})
    # when
    with pytest.raises(Conflict) as refused:
        customer_create(actor=users[Role.SALES], owner=users[Role.SALES], data={"name": "小赵", "phone": "13800138000"})
    # then: whom to ask, and nothing of the record itself
    message = str(refused.value.message)
    assert refused.value.code == "duplicate_customer" and refused.value.field == "phone"
    assert "李经理" in message and "赵六" not in message and theirs.number not in message
    assert refused.value.params == {"owner": "李经理"}
    assert Customer.objects.count() == 1

"""customer_create and customer_update: a change of the WeChat id or the owner is saved, audited and named on
the timeline."""

import pytest

from fidelis.accounts.models import AuditEntry
from fidelis.customers.models import Customer
from fidelis.customers.services import customer_create, customer_update
from fidelis.events.models import Event


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
    assert str(Customer._meta.get_field("wechat_id").verbose_name) in event.summary


@pytest.mark.django_db
def test_customer_update_of_the_owner_names_the_owner_on_the_timeline(manager, sales, zhang):
    customer_update(actor=manager, customer=zhang, data={"owner": sales, "wechat_id": "zs"})
    event = Event.objects.get(customer=zhang, type="customer.updated")
    assert event.payload == {"fields": ["owner_id", "wechat_id"]}
    assert all(str(Customer._meta.get_field(name).verbose_name) in event.summary for name in ("owner", "wechat_id"))
    assert Customer.objects.get(pk=zhang.pk).owner == sales

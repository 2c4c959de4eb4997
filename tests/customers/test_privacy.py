import json
from datetime import date

import pytest

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.dedupe import customers_merge, duplicates_scan
from fidelis.customers.models import Consent, Contact, Customer, CustomerTag, DuplicateCandidate, MergeRecord
from fidelis.customers.privacy import customer_erase, customer_personal_data_export
from fidelis.customers.services import consent_set, contact_create, customer_create, customer_update
from fidelis.events.models import Event
from fidelis.events.services import record_event

PERSONAL = {"name": "张三", "phone": "13800138000", "phone_alt": "13900139000", "email": "zs@example.cn",
            "wechat_id": "zhangsan88", "province": "浙江", "city": "杭州", "district": "西湖区",
            "address": "文三路 1 号", "birthday": date(1990, 5, 1), "gender": "male", "company_name": "星辰科技",
            "occupation": "工程师", "interests": "跑步", "special_requests": "不要周末来电", "notes": "喜欢泰迪"}


@pytest.fixture
def zhang(manager):
    customer = customer_create(actor=manager, data=dict(PERSONAL, category="key", value_tier="high"),
                               tags=["宠物品种:泰迪"])
    consent_set(actor=manager, customer=customer, channel="sms", granted=True, source="门店 张三 签字")
    record_event(customer=customer, type="order.paid", summary="张三 买了狗粮",
                 payload={"amount": "199.00", "currency": "CNY", "items_count": 2, "address": "文三路 1 号",
                          "phone": "13800138000"})
    return customer


@pytest.mark.django_db
def test_customer_personal_data_export_holds_profile_tags_consents_events_and_is_audited(manager, zhang):
    # when
    data = customer_personal_data_export(actor=manager, customer=zhang)
    # then
    assert data["customer"]["name"] == "张三" and data["customer"]["phone"] == "+8613800138000"
    assert data["customer"]["birthday"] == "1990-05-01" and data["customer"]["number"] == zhang.number
    assert data["tags"] == ["宠物品种:泰迪"]
    assert data["consents"][0]["channel"] == "sms" and data["consents"][0]["granted"] is True
    assert {e["type"] for e in data["events"]} >= {"customer.created", "consent.granted", "order.paid"}
    json.dumps(data)  # serialisable as it is
    entry = AuditEntry.objects.get(action="customer.personal_export")
    assert entry.actor == manager and entry.object_id == zhang.public_id


@pytest.mark.django_db
def test_customer_personal_data_export_includes_merged_records(manager, zhang):
    other = customer_create(actor=manager, data={"name": "张三", "email": "old@example.cn"})
    customers_merge(actor=manager, keep=zhang, absorb=other)
    data = customer_personal_data_export(actor=manager, customer=zhang)
    assert data["merged_records"][0]["record"]["email"] == "old@example.cn"


@pytest.mark.django_db
def test_customer_personal_data_export_by_marketing_is_refused(users, zhang):
    with pytest.raises(PermissionDenied):
        customer_personal_data_export(actor=users[Role.MARKETING], customer=zhang)
    assert not AuditEntry.objects.filter(action="customer.personal_export").exists()


@pytest.mark.django_db
def test_customer_erase_blanks_personal_data_and_keeps_order_amounts(manager, zhang):
    # given
    duplicate = customer_create(actor=manager, data={"name": "张三", "phone": "13800138000"}, allow_duplicate=True)
    duplicates_scan()
    events_before = Event.objects.filter(customer=zhang).count()
    # when
    customer_erase(actor=manager, customer=zhang, reason="客户书面要求删除")
    # then
    zhang.refresh_from_db()
    assert zhang.erased_at is not None and zhang.name != "张三"
    for field in PERSONAL:
        if field != "name":
            assert getattr(zhang, field) in ("", None), field
    assert (zhang.phone_digits, zhang.phone_reversed, zhang.phone_alt_digits, zhang.email_normalized,
            zhang.company_key) == ("", "", "", "", "")
    assert "zhangsan" not in zhang.name_pinyin
    assert zhang.category == "key" and zhang.value_tier == "high" and zhang.number
    assert not CustomerTag.objects.filter(customer=zhang).exists()
    assert not Consent.objects.filter(customer=zhang).exists()
    assert not DuplicateCandidate.objects.exists()
    order = Event.objects.get(customer=zhang, type="order.paid")
    assert order.payload == {"amount": "199.00", "currency": "CNY", "items_count": 2} and order.summary == ""
    assert Event.objects.filter(customer=zhang).count() == events_before + 1
    assert Event.objects.filter(customer=zhang, type="customer.erased").exists()
    erase = AuditEntry.objects.get(action="customer.erase")
    assert erase.changes["reason"] == [None, "客户书面要求删除"] and erase.actor == manager
    # the audit log keeps who did what, without the personal values
    created = AuditEntry.objects.get(action="customer.create", object_id=zhang.public_id)
    assert "张三" not in json.dumps(created.changes, ensure_ascii=False) + created.object_repr
    assert "13800138000" not in json.dumps(created.changes)
    assert "category" in created.changes
    duplicate.refresh_from_db()
    assert duplicate.name == "张三" and duplicate.erased_at is None


@pytest.mark.django_db
def test_customer_erase_also_erases_records_merged_into_it(manager, zhang):
    other = customer_create(actor=manager, data={"name": "张三", "email": "old@example.cn"})
    customers_merge(actor=manager, keep=zhang, absorb=other)
    customer_erase(actor=manager, customer=zhang, reason="客户要求")
    other.refresh_from_db()
    assert other.erased_at is not None and other.email == "" and other.name != "张三"
    assert MergeRecord.objects.get().snapshot == {"number": other.number, "erased": True}


@pytest.mark.django_db
def test_customer_erase_deletes_company_contacts(manager):
    company = customer_create(actor=manager, data={"name": "星辰科技", "kind": "company"})
    contact_create(actor=manager, customer=company, name="刘经理", phone="13900139000")
    customer_erase(actor=manager, customer=company, reason="客户要求")
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_customer_erase_needs_a_reason_and_writes_nothing_without(manager, zhang):
    with pytest.raises(DomainError) as exc:
        customer_erase(actor=manager, customer=zhang, reason="  ")
    assert exc.value.field == "reason"
    zhang.refresh_from_db()
    assert zhang.erased_at is None and zhang.name == "张三"


@pytest.mark.django_db
def test_customer_erase_by_marketing_is_refused(users, zhang):
    with pytest.raises(PermissionDenied):
        customer_erase(actor=users[Role.MARKETING], customer=zhang, reason="x")
    zhang.refresh_from_db()
    assert zhang.erased_at is None


@pytest.mark.django_db
def test_customer_erase_twice_is_refused_and_erased_customer_cannot_be_edited(manager, zhang):
    customer_erase(actor=manager, customer=zhang, reason="客户要求")
    with pytest.raises(DomainError):
        customer_erase(actor=manager, customer=zhang, reason="客户要求")
    zhang.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        customer_update(actor=manager, customer=zhang, data={"name": "张三"})
    assert exc.value.code == "erased"
    assert Customer.objects.get(pk=zhang.pk).name != "张三"

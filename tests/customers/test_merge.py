from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.dedupe import customers_merge, duplicates_scan
from fidelis.customers.models import (
    Consent,
    Contact,
    Customer,
    CustomerTag,
    DuplicateCandidate,
    DuplicateStatus,
    MergeRecord,
)
from fidelis.customers.selectors import customer_visible_qs
from fidelis.customers.services import consent_set, contact_create, customer_create
from fidelis.events.models import Event
from fidelis.events.services import record_event


@pytest.fixture
def pair(manager):
    keep = customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "city": ""},
                           tags=["VIP", "宠物品种:泰迪"])
    absorb = customer_create(actor=manager, data={
        "name": "张三", "phone": "13800138000", "email": "zs@example.cn", "city": "杭州", "birthday": date(1990, 5, 1),
        "lifecycle_stage": "buyer"}, tags=["VIP", "老客户"], allow_duplicate=True)
    return keep, absorb


@pytest.mark.django_db
def test_customers_merge_moves_history_tags_and_fills_empty_fields(manager, pair):
    # given
    keep, absorb = pair
    record_event(customer=absorb, type="order.paid", payload={"amount": "99.00"})
    absorbed_events = Event.objects.filter(customer=absorb).count()
    kept_events = Event.objects.filter(customer=keep).count()
    duplicates_scan()
    # when
    record = customers_merge(actor=manager, keep=keep, absorb=absorb)
    # then
    keep.refresh_from_db()
    absorb.refresh_from_db()
    assert absorb.merged_into == keep
    assert keep.email == "zs@example.cn" and keep.email_normalized == "zs@example.cn"
    assert keep.city == "杭州" and keep.birthday == date(1990, 5, 1) and keep.lifecycle_stage == "buyer"
    assert sorted(keep.tags.values_list("name", flat=True)) == ["VIP", "泰迪", "老客户"]
    assert not CustomerTag.objects.filter(customer=absorb).exists()
    assert Event.objects.filter(customer=absorb).count() == 0
    # the absorbed history, the kept one, and the merge event
    assert Event.objects.filter(customer=keep).count() == absorbed_events + kept_events + 1
    assert Event.objects.filter(customer=keep, type="customer.merged").exists()
    assert record.snapshot["email"] == "zs@example.cn" and record.snapshot["tags"] == ["VIP", "老客户"]
    assert record.moved["tags"] == ["老客户"] and record.moved["events"] == absorbed_events
    assert set(record.moved["fields"]) >= {"email", "city", "birthday", "lifecycle_stage"}
    assert MergeRecord.objects.get() == record and record.actor == manager
    assert DuplicateCandidate.objects.get().status == DuplicateStatus.MERGED
    assert AuditEntry.objects.filter(action="customer.merge", object_id=keep.public_id).exists()
    assert list(customer_visible_qs(manager).filter(pk__in=[keep.pk, absorb.pk])) == [keep]


@pytest.mark.django_db
def test_customers_merge_keeps_most_recent_consent_per_channel(manager, pair):
    keep, absorb = pair
    consent_set(actor=manager, customer=keep, channel="sms", granted=True, source="门店")
    consent_set(actor=manager, customer=absorb, channel="sms", granted=False, source="电话退订")
    consent_set(actor=manager, customer=absorb, channel="email", granted=True, source="官网")
    old = Consent.objects.get(customer=keep, channel="sms")
    old.recorded_at = timezone.now() - timedelta(days=3)
    old.save()
    consent_set(actor=manager, customer=keep, channel="wechat", granted=True, source="公众号")
    newer = Consent.objects.get(customer=keep, channel="wechat")
    Consent.objects.create(customer=absorb, channel="wechat", granted=False, source="旧记录",
                           recorded_at=newer.recorded_at - timedelta(days=30))
    # when
    record = customers_merge(actor=manager, keep=keep, absorb=absorb)
    # then
    consents = {c.channel: (c.granted, c.source) for c in Consent.objects.filter(customer=keep)}
    assert consents == {"sms": (False, "电话退订"), "email": (True, "官网"), "wechat": (True, "公众号")}
    assert not Consent.objects.filter(customer=absorb).exists()
    assert sorted(record.moved["consents"]) == ["email", "sms"]


@pytest.mark.django_db
def test_customers_merge_moves_contacts_of_companies(manager):
    keep = customer_create(actor=manager, data={"name": "星辰科技", "kind": "company"})
    absorb = customer_create(actor=manager, data={"name": "星辰科技有限公司", "kind": "company"})
    contact_create(actor=manager, customer=absorb, name="刘经理", phone="13900139000")
    customers_merge(actor=manager, keep=keep, absorb=absorb)
    assert list(Contact.objects.values_list("customer_id", "name")) == [(keep.pk, "刘经理")]


@pytest.mark.django_db
def test_customers_merge_carries_other_open_pairs_to_kept_record(manager, pair):
    keep, absorb = pair
    third = customer_create(actor=manager, data={"name": "张叁", "email": "zs@example.cn"}, allow_duplicate=True)
    duplicates_scan()
    customers_merge(actor=manager, keep=keep, absorb=absorb)
    open_pairs = set(DuplicateCandidate.objects.filter(status=DuplicateStatus.OPEN)
                     .values_list("customer_id", "other_id"))
    assert open_pairs == {(keep.pk, third.pk)}


@pytest.mark.django_db
def test_customers_merge_by_role_without_capability_is_refused_and_changes_nothing(users, pair):
    keep, absorb = pair
    for role in (Role.SALES, Role.SERVICE, Role.READONLY):
        with pytest.raises(PermissionDenied):
            customers_merge(actor=users[role], keep=keep, absorb=absorb)
    absorb.refresh_from_db()
    assert absorb.merged_into is None and not MergeRecord.objects.exists()


@pytest.mark.django_db
def test_customers_merge_with_itself_or_twice_is_refused(manager, pair):
    keep, absorb = pair
    with pytest.raises(DomainError):
        customers_merge(actor=manager, keep=keep, absorb=keep)
    customers_merge(actor=manager, keep=keep, absorb=absorb)
    with pytest.raises(DomainError) as exc:
        customers_merge(actor=manager, keep=keep, absorb=absorb)
    assert exc.value.code == "already_merged"
    assert MergeRecord.objects.count() == 1
    assert Customer.objects.active().count() == 1


@pytest.mark.django_db
def test_customers_merge_refuses_to_join_a_callers_transaction_and_merges_nothing(manager, pair):
    # given a caller that opened a transaction of its own
    keep, absorb = pair
    # when it calls the merge inside it
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        customers_merge(actor=manager, keep=keep, absorb=absorb)
    # then the merge is refused: it commits on its own or not at all
    absorb.refresh_from_db()
    assert absorb.merged_into is None and not MergeRecord.objects.exists()

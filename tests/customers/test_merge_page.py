"""The page of a merge: what moved and the merged record as a customer card, in the viewer's language."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from fidelis.customers.dedupe import customers_merge, duplicates_scan
from fidelis.customers.privacy import customer_erase
from fidelis.customers.services import consent_set, customer_create
from fidelis.sales.services import category_save, order_create, product_save, store_save

pytestmark = pytest.mark.django_db

# Names of stored columns and data shapes that a person should never read on the page.
RAW = ("phone_reversed", "phone_digits", "company_key", "email_normalized", "name_pinyin", "name_initials",
       "erased_at", "merged_into", "owner_id", "public_id", "+8613", "None", "{", "[")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def merged(manager):
    """Two records of one person, the second with orders, tags, a consent and an owner, merged into the first."""
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    coffee = category_save(actor=manager, data={"name": "咖啡"})
    product_save(actor=manager, data={"sku": "CF-001", "name": "美式咖啡", "category": coffee,
                                      "list_price": Decimal("28.00")})
    keep = customer_create(actor=manager, data={"name": "张三", "phone": "13800138000"}, tags=["VIP"])
    absorb = customer_create(actor=manager, data={
        "name": "张三", "phone": "13800138000", "email": "zs@example.cn", "city": "杭州", "company_name": "杭州悦享有限公司",
        "birthday": date(1990, 5, 1), "gender": "male", "category": "key", "lifecycle_stage": "buyer"},
        tags=["VIP", "老客户"], allow_duplicate=True)
    absorb.owner = manager
    absorb.save(update_fields=["owner"])
    consent_set(actor=manager, customer=absorb, channel="sms", granted=True, source="门店")
    for number in ("M-1", "M-2"):
        order_create(actor=manager, customer=absorb, lines=[{"sku": "CF-001", "quantity": 1}], channel="store",
                     store="1F-01", payment_method="cash", order_no=number)
    return customers_merge(actor=manager, keep=keep, absorb=absorb)


def _page(client, record) -> str:
    response = client.get(reverse("customers:merge_detail", args=[record.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _main(page: str) -> str:
    """Return the page's content without the layout around it (menus, scripts)."""
    return page[page.index("<h1>"):page.index("Back to possible duplicates") if "Back to possible" in page
                else page.index("返回疑似重复列表")]


def test_merge_page_shows_what_moved_and_the_merged_record_with_chinese_labels(client_for, manager, merged):
    # when
    page = _main(_page(client_for(manager), merged))
    # then: what moved, counted per kind
    assert '订单</dt><dd data-kind="orders"><span class="num">2</span> · M-1、M-2</dd>' in page
    assert '标签</dt><dd data-kind="tags"><span class="num">1</span> · 老客户</dd>' in page
    assert "营销授权" in page and "短信" in page
    # the merged record as a card: labels, choices by their label, phone as written at home, local dates
    for label, value in (("手机", "138 0013 8000"), ("城市", "杭州"), ("性别", "男"), ("客户类别", "重点"),
                         ("生命周期阶段", "购买者"), ("生日", "1990-05-01"), ("负责人", str(manager))):
        assert f"<dt>{label}</dt>" in page, label
        assert value in page, value
    # the kept customer is linked
    assert reverse("customers:detail", args=[merged.kept.public_id]) in page
    # no stored column names, JSON or ISO times
    for raw in RAW:
        assert raw not in page, raw
    assert not ISO_TIME.search(page)


def test_merge_page_speaks_english_when_the_viewer_chose_it(client_for, manager, merged):
    client = client_for(manager)
    client.post(reverse("set_language"), {"language": "en"})
    # when
    page = _main(_page(client, merged))
    # then
    assert 'Orders</dt><dd data-kind="orders"><span class="num">2</span>' in page
    assert "Tags</dt>" in page and "Timeline events" in page
    for label in ("mobile phone", "city", "gender", "category", "lifecycle stage", "birthday", "owner"):
        assert f"<dt>{label}</dt>" in page, label
    assert "Male" in page and "Key" in page and "Buyer" in page and "138 0013 8000" in page
    assert "SMS" in page and "Granted" in page
    assert "Kept record" in page and reverse("customers:detail", args=[merged.kept.public_id]) in page
    assert not ISO_TIME.search(page)
    assert "phone_reversed" not in page and "company_key" not in page


def test_merge_page_of_an_erased_person_shows_no_personal_data(client_for, manager, merged):
    # given
    customer_erase(actor=manager, customer=merged.kept, reason="本人要求")
    # when
    page = _main(_page(client_for(manager), merged))
    # then
    assert "个人信息已删除" in page and "杭州" not in page and "138 0013 8000" not in page


def test_duplicate_list_shows_phones_and_times_as_people_read_them(client_for, manager):
    # given
    customer_create(actor=manager, data={"name": "李四", "phone": "13900139000"})
    customer_create(actor=manager, data={"name": "李四", "phone": "13900139000"}, allow_duplicate=True)
    duplicates_scan()
    # when
    page = client_for(manager).get(reverse("customers:duplicates")).content.decode()
    # then
    assert "139 0013 9000" in page and "+8613900139000" not in page and not ISO_TIME.search(page)

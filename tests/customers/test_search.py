import pytest
from django.urls import reverse

from fidelis.customers.selectors import customer_search
from fidelis.customers.services import customer_create


@pytest.mark.django_db
def test_customer_search_finds_by_pinyin_initials_phone_formats_and_number(manager):
    # given
    zhang = customer_create(actor=manager, data={"name": "张三", "phone": "138 0013 8000"})
    customer_create(actor=manager, data={"name": "李四", "phone": "13900139000"})
    # when / then
    for query in ["zs", "zhangsan", "zhang", "张三", "张", "138 0013 8000", "+86-13800138000", "8000", zhang.number]:
        found = customer_search(manager, query)
        assert [c.pk for c in found] == [zhang.pk], query


@pytest.mark.django_db
def test_customer_search_hides_other_reps_customers_from_sales(users, manager):
    from fidelis.accounts.models import Role

    rep, other = users[Role.SALES], users[Role.MARKETING]
    mine = customer_create(actor=manager, data={"name": "张三"}, owner=rep)
    customer_create(actor=manager, data={"name": "张三丰"}, owner=other)
    assert [c.pk for c in customer_search(rep, "zs")] == [mine.pk]


@pytest.mark.django_db
def test_the_as_you_type_answer_counts_its_matches_for_the_heading(client, manager):
    for name, phone in (("张三", "13800138000"), ("张思", "13900139000"), ("李四", "13700137000")):
        customer_create(actor=manager, data={"name": name, "phone": phone})
    client.force_login(manager)
    searched = client.get(reverse("customers:search"), {"q": "zs"}).content.decode()
    assert 'id="customer-count" hx-swap-oob="true"' in searched and "zs" in searched.split('id="customer-count"')[1]
    cleared = client.get(reverse("customers:search"), {"q": ""}).content.decode()
    assert "3" in cleared.split('id="customer-count"')[1].split("</div>")[0]
    listed = client.get(reverse("customers:list")).content.decode()
    assert listed.count('id="customer-count"') == 1 and "hx-swap-oob" not in listed

"""The home page ("my day") and its dashboard: the funnel, categories, value tiers and recent events in a few
queries."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.events.services import record_event


def _counts(rows, key="n"):
    return {row["value"]: row[key] for row in rows}


@pytest.mark.django_db
def test_home_counts_customers_by_stage_category_and_tier(client_for, manager):
    # given
    customer_create(actor=manager, data={"name": "张三", "lifecycle_stage": "member", "category": "key",
                                         "value_tier": "high"})
    customer_create(actor=manager, data={"name": "李四", "lifecycle_stage": "member"})
    customer_create(actor=manager, data={"name": "王五", "lifecycle_stage": "advocate", "category": "basic"})
    # when
    context = client_for(manager).get(reverse("web:dashboard")).context
    # then
    assert context["total"] == 3
    assert _counts(context["funnel"]) == {"interested": 0, "follower": 0, "member": 2, "buyer": 0, "loyal": 0,
                                          "advocate": 1}
    assert _counts(context["categories"]) == {"potential": 1, "basic": 1, "key": 1}
    assert _counts(context["tiers"]) == {"high": 1, "medium": 0, "low": 2}
    assert [row["width"] for row in context["funnel"]][2] == 100


@pytest.mark.django_db
def test_home_of_a_sales_rep_counts_and_lists_only_visible_customers(client_for, users, manager):
    rep = users[Role.SALES]
    mine = customer_create(actor=manager, data={"name": "张三"}, owner=rep)
    theirs = customer_create(actor=manager, data={"name": "李四"}, owner=users[Role.MARKETING])
    record_event(customer=theirs, type="store.visited", summary="secret visit")
    response = client_for(rep).get(reverse("web:dashboard"))
    assert response.context["total"] == 1
    assert {e.customer_id for e in response.context["recent"]} == {mine.pk}
    assert "secret visit" not in response.content.decode()


@pytest.mark.django_db
def test_home_query_count_does_not_grow_with_events(client_for, manager, django_assert_max_num_queries):
    for i in range(5):
        customer = customer_create(actor=manager, data={"name": f"客户{i}"})
        for j in range(5):
            record_event(customer=customer, type="order.paid", payload={"amount": "9.90"}, summary=f"#{j}")
    client = client_for(manager)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("web:dashboard"))
    assert response.status_code == 200 and "¥9.90" in response.content.decode()


@pytest.mark.django_db
def test_home_loads_the_dashboard_after_my_day_and_does_not_count_customers(client_for, manager,
                                                                          django_assert_max_num_queries):
    customer_create(actor=manager, data={"name": "张三"})
    client = client_for(manager)
    client.get(reverse("web:home"))  # warm the session
    with django_assert_max_num_queries(2):  # the session with its user, my day (tasks with their customers)
        body = client.get(reverse("web:home")).content.decode()
    assert f'hx-get="{reverse("web:dashboard")}"' in body and 'id="my-day"' in body

"""The navigation shows each role only what it may use."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import Role


def _nav_links(response) -> set[str]:
    return {item["name"] for item in response.context["nav_items"]}


@pytest.mark.django_db
def test_navigation_of_a_read_only_user_has_no_manager_pages(client_for, users):
    response = client_for(users[Role.READONLY]).get(reverse("web:home"))
    links = _nav_links(response)
    assert {"web:home", "customers:list"} <= links
    assert not links & {"accounts:users", "accounts:tokens", "accounts:audit", "customers:import_start"}
    assert reverse("accounts:users") not in response.content.decode()


@pytest.mark.django_db
def test_navigation_of_a_manager_has_users_tokens_and_audit(client_for, manager):
    links = _nav_links(client_for(manager).get(reverse("web:home")))
    assert {"accounts:users", "accounts:tokens", "accounts:audit", "customers:list"} <= links


@pytest.mark.django_db
def test_navigation_marks_customers_active_on_a_customer_page(client_for, manager):
    response = client_for(manager).get(reverse("customers:create"))
    active = [item["name"] for item in response.context["nav_items"] if item["active"]]
    assert active == ["customers:list"]


@pytest.mark.django_db
def test_language_switch_is_offered_in_the_three_languages(client_for, manager):
    body = client_for(manager).get(reverse("web:home")).content.decode()
    for code, name in (("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")):
        assert f'value="{code}"' in body and name in body
    assert reverse("set_language") in body


@pytest.mark.django_db
def test_pages_are_chinese_by_default_and_english_after_switching(client_for, manager):
    client = client_for(manager)
    assert '<html lang="zh-hans">' in client.get(reverse("customers:list")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = client.get(reverse("customers:list")).content.decode()
    assert '<html lang="en">' in body and "Customers" in body

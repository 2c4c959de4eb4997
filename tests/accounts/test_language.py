"""The language picker remembers the choice on the user: it is the language of what is e-mailed to them."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_choosing_a_language_remembers_it_on_the_user(client_for, sales):
    client = client_for(sales)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "en"
    sales.refresh_from_db()
    assert sales.language == "en"


def test_an_unknown_language_changes_nothing(client_for, sales):
    client_for(sales).post(reverse("set_language"), {"language": "xx", "next": "/"})
    sales.refresh_from_db()
    assert sales.language == ""


def test_anonymous_visitors_switch_the_page_language_only(client):
    response = client.post(reverse("set_language"), {"language": "zh-hant", "next": "/accounts/login/"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "zh-hant"

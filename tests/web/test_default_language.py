import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_login_page_is_chinese_even_for_an_english_browser(client):
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="zh-hans"' in response.content.decode()


@pytest.mark.django_db
def test_chosen_language_wins_over_the_default(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("accounts:login"))
    assert '<html lang="en"' in response.content.decode()


@pytest.mark.django_db
def test_api_errors_follow_accept_language(client):
    response = client.get("/api/customers", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response["Content-Language"] == "en"

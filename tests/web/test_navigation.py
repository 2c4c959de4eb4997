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


@pytest.mark.django_db
def test_the_sidebar_shows_the_users_name_role_menu_and_this_requests_token_and_path(manager, sales):
    from django.test import Client
    from django.utils import translation
    from django.utils.html import escape

    # given: a rep whose name needs escaping, and a manager
    sales.display_name = '李 "小" <销售>'
    sales.save()
    pages = {}
    for user, path, language in ((manager, "/customers/?q=a&b=%22", "zh-hans"), (sales, "/", "en"),
                                 (manager, "/work/", "en")):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.cookies.load({"django_language": language})
        # when: each opens a page
        body = client.get(path).content.decode()
        token = body.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
        sidebar = body[body.index('<aside class="sidebar">'):body.index("</aside>")]
        # then: the sidebar carries this request's token in both forms and the page to come back to
        assert sidebar.count(f'name="csrfmiddlewaretoken" value="{token}"') == 2
        assert f'name="next" type="hidden" value="{escape(path)}"' in sidebar
        with translation.override(language):
            assert f"<small>{user.get_role_display()}</small>" in sidebar
        pages[user.username, language] = (client, sidebar, token)
    _client, mine, _token = pages[sales.username, "en"]
    assert "李 &quot;小&quot; &lt;销售&gt;" in mine and reverse("accounts:users") not in mine
    assert "退出登录" in pages[manager.username, "zh-hans"][1] and "Log out" in pages[manager.username, "en"][1]
    assert pages[manager.username, "zh-hans"][2] != pages[manager.username, "en"][2]
    assert 'class="nav-link active" aria-current="page"' in pages[manager.username, "en"][1]
    # and the token of a served page signs the user out
    client, _sidebar, token = pages[manager.username, "en"]
    assert client.post(reverse("accounts:logout"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get(reverse("web:home")).status_code == 302

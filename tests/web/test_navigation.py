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
def test_the_sidebar_is_rendered_once_and_filled_with_each_requests_token_and_path(manager, sales):
    """The sidebar comes from a cache of its fixed parts: it must read as a fresh render, with this request's
    CSRF token (which then signs out) and the page to come back to, and the user's own name, role and menu."""
    from django.middleware.csrf import get_token
    from django.template import RequestContext
    from django.template.loader import render_to_string
    from django.test import Client, RequestFactory
    from django.urls import resolve
    from django.utils import translation
    from django.utils.html import escape

    from fidelis.web.context_processors import nav_items
    from fidelis.web.templatetags.fidelis_ui import _nav_links, sidebar

    sales.display_name = '李 "小" <销售>'
    sales.save()
    rendered = {}
    for user, path, language in ((manager, "/customers/?q=a&b=%22", "zh-hans"), (sales, "/", "en"),
                                 (manager, "/work/", "en")):
        request = RequestFactory().get(path)
        request.user, request.resolver_match = user, resolve(request.path)
        with translation.override(language):
            token = get_token(request)
            context = RequestContext(request, {"user": user, "nav_items": nav_items(request), "csrf_token": token})
            cached = [sidebar(context) for _ in range(2)][1]
            fresh = render_to_string("web/_sidebar.html", {
                "nav": _nav_links(tuple((i["url"], str(i["label"]), i["icon"], i["active"])
                                        for i in nav_items(request))),
                "who": str(user), "role": str(user.get_role_display()), "csrf_token": token,
                "next_path": request.get_full_path()})
            role = str(user.get_role_display())
        assert cached == fresh
        assert cached.count(f'value="{token}"') == 2 and role in cached
        assert f'name="next" type="hidden" value="{escape(path)}"' in cached
        rendered[user.username, language] = cached
    mine = rendered[sales.username, "en"]
    assert "李 &quot;小&quot; &lt;销售&gt;" in mine and reverse("accounts:users") not in mine
    assert "退出登录" in rendered[manager.username, "zh-hans"] and "Log out" in rendered[manager.username, "en"]
    # the token of a served page signs the user out
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    body = client.get(reverse("web:home")).content.decode()
    form = body[body.index(f'action="{reverse("accounts:logout")}"'):]
    token = form.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert client.post(reverse("accounts:logout"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get(reverse("web:home")).status_code == 302

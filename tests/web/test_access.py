"""The access decorator and the permission matrix of the staff pages."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.models import Role
from fidelis.accounts.permissions import CAPABILITIES
from fidelis.core.errors import NotFound
from fidelis.customers.services import customer_create

# Routes that need no capability: signing in and out, the language switch, the health check, the API (own auth).
PUBLIC = {"accounts:login", "accounts:logout", "set_language", "web:healthz", "web:favicon"}


def _routes(resolver=None, namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "api" or str(entry.pattern).startswith("api/"):
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _routes(entry, inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry.callback


def test_require_capability_records_the_capability_on_the_view():
    @require_capability("customer.export")
    def view(request):
        return HttpResponse("ok")

    assert view.required_capability == "customer.export"


def test_require_capability_refuses_an_unknown_capability():
    with pytest.raises(KeyError):
        require_capability("customer.fly")


@pytest.mark.django_db
def test_require_capability_turns_not_found_into_404(users):
    @require_capability("customer.view")
    def view(request):
        raise NotFound("gone")

    request = RequestFactory().get("/x")
    request.user = users[Role.READONLY]
    from django.http import Http404

    with pytest.raises(Http404):
        view(request)


def test_every_staff_view_names_a_known_capability():
    # given every routed view of the web UI
    missing = [name for name, callback in _routes()
               if name not in PUBLIC and getattr(callback, "required_capability", None) not in CAPABILITIES]
    # then each one declares what it requires
    assert missing == []


PROFILE_ROUTES = {
    "customers:list": "customer.view", "customers:search": "customer.view", "customers:create": "customer.add",
    "customers:detail": "customer.view", "customers:edit": "customer.change", "customers:tag_add": "customer.change",
    "customers:tag_remove": "customer.change", "customers:consent": "customer.consent",
    "customers:contact_add": "customer.change", "customers:timeline": "customer.view",
    "accounts:users": "user.manage", "accounts:user_edit": "user.manage", "accounts:tokens": "token.manage",
    "accounts:token_revoke": "token.manage", "accounts:audit": "audit.view", "web:home": "customer.view",
}


def test_profile_and_manager_views_require_the_documented_capability():
    callbacks = dict(_routes())
    assert {name: callbacks[name].required_capability for name in PROFILE_ROUTES} == PROFILE_ROUTES


GET_PAGES = [
    ("web:home", None), ("customers:list", None), ("customers:search", None), ("customers:create", None),
    ("customers:detail", "customer"), ("customers:edit", "customer"), ("customers:timeline", "customer"),
    ("accounts:users", None), ("accounts:user_edit", "user"), ("accounts:tokens", None), ("accounts:audit", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_permission_matrix_each_role_gets_exactly_the_pages_its_capabilities_allow(client_for, users, manager,
                                                                                   role):
    # given an unassigned customer (every role that reads may see it) and a user to edit
    customer = customer_create(actor=manager, data={"name": "张三"})
    client = client_for(users[role])
    callbacks = dict(_routes())
    for name, arg in GET_PAGES:
        args = {"customer": [customer.public_id], "user": [users[Role.READONLY].pk], None: []}[arg]
        # when the page is opened
        status = client.get(reverse(name, args=args)).status_code
        # then it opens exactly when the role has the capability
        allowed = role in CAPABILITIES[callbacks[name].required_capability]
        assert status == (200 if allowed else 403), (name, role, status)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [name for name, _arg in GET_PAGES if name != "customers:search"])
def test_anonymous_visitor_is_sent_to_log_in(client, users, name):
    args = {"customers:detail": ["x"], "customers:edit": ["x"], "customers:timeline": ["x"],
            "accounts:user_edit": [1]}.get(name, [])
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


@pytest.mark.django_db
def test_forbidden_page_is_localised_and_keeps_the_navigation(client_for, users):
    client = client_for(users[Role.READONLY])
    client.cookies["django_language"] = "en"
    response = client.get(reverse("accounts:users"))
    body = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="en">' in body and reverse("customers:list") in body


@pytest.mark.django_db
def test_htmx_request_after_the_session_ended_redirects_the_whole_page_to_log_in(client):
    response = client.get(reverse("customers:search"), {"q": "zs"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"] == reverse("accounts:login")
    assert response.content == b""

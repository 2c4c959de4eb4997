from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fidelis.accounts.models import ApiToken, Role
from fidelis.accounts.services import api_token_create, api_token_revoke
from fidelis.customers.models import Customer

ALL_SCOPES = ["customers:read", "customers:write", "events:write", "feedback:read", "feedback:write", "loyalty:read",
              "loyalty:write", "sales:read", "sales:write", "work:read", "work:write"]


def _token(manager, user, scopes=ALL_SCOPES, **kwargs):
    token, raw = api_token_create(actor=manager, user=user, name="pos", scopes=scopes, **kwargs)
    return token, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.django_db
def test_me_with_token_names_user_role_and_scopes(client, manager, sales):
    # given a token of a sales rep that may only read
    _token_obj, auth = _token(manager, sales, scopes=["customers:read"])
    # when
    response = client.get("/api/me", **auth)
    # then
    assert response.status_code == 200
    assert response.json() == {"username": "sales", "display_name": "", "role": "sales", "via": "token",
                                    "token_name": "pos", "scopes": ["customers:read"]}


@pytest.mark.django_db
def test_me_with_session_has_every_scope(client_for, manager):
    response = client_for(manager).get("/api/me")
    assert response.status_code == 200
    assert response.json()["via"] == "session"
    assert sorted(response.json()["scopes"]) == ALL_SCOPES


@pytest.mark.django_db
def test_no_credentials_is_401_json(client):
    response = client.get("/api/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_expired_token_is_401_token_expired(client, manager):
    _obj, auth = _token(manager, manager, expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/me", **auth)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert response.json()["message"]


@pytest.mark.django_db
def test_revoked_token_is_401_token_revoked(client, manager):
    token, auth = _token(manager, manager)
    api_token_revoke(actor=manager, token=token)
    response = client.get("/api/me", **auth)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


@pytest.mark.django_db
def test_unknown_token_is_401_token_invalid(client, manager):
    for header in ("Bearer fid_nottherealone", "Bearer something-else"):
        response = client.get("/api/me", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["code"] == "token_invalid"


@pytest.mark.django_db
def test_token_of_deactivated_user_is_refused(client, manager, sales):
    _obj, auth = _token(manager, sales)
    sales.is_active = False
    sales.save(update_fields=["is_active"])
    response = client.get("/api/me", **auth)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


@pytest.mark.django_db
def test_token_without_scope_is_403_and_writes_nothing(client, manager):
    # given a manager's token that may only read
    _obj, auth = _token(manager, manager, scopes=["customers:read"])
    # when it tries to create a customer
    response = client.post("/api/customers", {"name": "张三"}, content_type="application/json", **auth)
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_token_acts_with_its_users_role(client, manager, users):
    # given a token with every scope, but of a read-only user
    _obj, auth = _token(manager, users[Role.READONLY])
    response = client.post("/api/customers", {"name": "张三"}, content_type="application/json", **auth)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_last_used_at_is_written_at_most_once_a_minute(client, manager):
    token, auth = _token(manager, manager)
    client.get("/api/me", **auth)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("/api/me", **auth)
    token.refresh_from_db()
    assert token.last_used_at == first
    # a minute later the next use is written
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/me", **auth)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


@pytest.mark.django_db
def test_session_write_without_csrf_token_is_refused(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post("/api/customers", {"name": "张三"}, content_type="application/json")
    assert response.status_code == 403
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_session_write_with_csrf_token_works(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    client.get("/api/docs")
    csrf = client.cookies["csrftoken"].value
    response = client.post("/api/customers", {"name": "张三"}, content_type="application/json",
                           HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    assert Customer.objects.get().name == "张三"


@pytest.mark.django_db
def test_openapi_lists_the_routes(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/me", "/api/customers", "/api/customers/{public_id}", "/api/customers/{public_id}/tags",
                 "/api/customers/{public_id}/tags/{tag_name}", "/api/customers/{public_id}/consent/{channel}",
                 "/api/customers/{public_id}/events", "/api/events"):
        assert path in paths
    assert set(paths["/api/customers/{public_id}"]) == {"get", "patch"}


@pytest.mark.django_db
def test_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content
    assert b"cdn." not in response.content

import pytest
from django.urls import reverse

from fidelis.accounts.models import ApiToken, AuditEntry, Role, User, hash_token


@pytest.mark.django_db
def test_user_list_manager_creates_a_user_with_a_role(client_for, manager):
    response = client_for(manager).post(reverse("accounts:users"), {
        "username": "xiaoli", "display_name": "小李", "role": Role.SERVICE, "password": "long-enough-pw"})
    assert response.status_code == 302
    assert User.objects.get(username="xiaoli").role == Role.SERVICE
    assert AuditEntry.objects.filter(action="user.create", actor=manager).exists()


@pytest.mark.django_db
def test_user_edit_changes_role_and_is_audited(client_for, manager, users):
    target = users[Role.READONLY]
    client_for(manager).post(reverse("accounts:user_edit", args=[target.pk]), {"role": Role.SALES, "is_active": "on"})
    target.refresh_from_db()
    assert target.role == Role.SALES
    assert AuditEntry.objects.get(action="user.set_role").changes["role"] == [Role.READONLY, Role.SALES]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.READONLY, Role.SALES, Role.MARKETING, Role.SERVICE])
def test_manager_pages_are_forbidden_to_other_roles(client_for, users, role):
    client = client_for(users[role])
    for name in ("accounts:users", "accounts:tokens", "accounts:audit"):
        assert client.get(reverse(name)).status_code == 403


@pytest.mark.django_db
def test_token_list_shows_the_raw_token_once_and_stores_its_hash(client_for, manager):
    response = client_for(manager).post(reverse("accounts:tokens"),
                                        {"name": "POS 1", "scopes": ["customers:read", "events:write"]})
    raw = response.context["raw_token"]
    token = ApiToken.objects.get(name="POS 1")
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert raw not in client_for(manager).get(reverse("accounts:tokens")).content.decode()


@pytest.mark.django_db
def test_audit_log_filters_by_action(client_for, manager):
    client_for(manager).post(reverse("accounts:users"), {"username": "a1", "role": Role.SALES,
                                                         "password": "long-enough-pw"})
    response = client_for(manager).get(reverse("accounts:audit"), {"action": "user.create"})
    assert "a1" in response.content.decode()

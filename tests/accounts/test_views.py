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


@pytest.mark.django_db
def test_user_list_refuses_a_common_password_and_creates_nothing(client_for, manager):
    response = client_for(manager).post(reverse("accounts:users"), {"username": "weak", "role": Role.SALES,
                                                                     "password": "password"})
    assert response.status_code == 200 and "password" in response.context["form"].errors
    assert not User.objects.filter(username="weak").exists()


@pytest.mark.django_db
def test_user_list_taken_user_name_is_shown_on_the_field(client_for, manager, users):
    response = client_for(manager).post(reverse("accounts:users"), {"username": "sales", "role": Role.SALES,
                                                                     "password": "long-enough-pw"})
    assert response.status_code == 200 and "username" in response.context["form"].errors
    assert User.objects.filter(username="sales").count() == 1


@pytest.mark.django_db
def test_user_edit_deactivates_a_user_who_then_cannot_open_pages(client_for, manager, users, client):
    target = users[Role.SALES]
    client_for(manager).post(reverse("accounts:user_edit", args=[target.pk]), {"role": Role.SALES})
    target.refresh_from_db()
    assert not target.is_active
    assert AuditEntry.objects.get(action="user.set_role").changes == {"is_active": [True, False]}
    client.logout()
    client.force_login(target)
    assert client.get(reverse("customers:list")).status_code in (302, 403)


@pytest.mark.django_db
def test_user_edit_manager_cannot_deactivate_themselves(client_for, manager):
    response = client_for(manager).post(reverse("accounts:user_edit", args=[manager.pk]), {"role": Role.MANAGER})
    assert response.status_code == 200 and "is_active" in response.context["form"].errors
    manager.refresh_from_db()
    assert manager.is_active


@pytest.mark.django_db
def test_token_list_with_expiry_sets_the_expiry_date(client_for, manager):
    client_for(manager).post(reverse("accounts:tokens"), {"name": "WeChat", "scopes": ["events:write"],
                                                          "expires_in_days": "30"})
    token = ApiToken.objects.get(name="WeChat")
    assert token.expires_at is not None and token.user == manager and token.scopes == ["events:write"]
    assert 29 <= (token.expires_at - token.created_at).days <= 30


@pytest.mark.django_db
def test_token_list_without_scopes_is_refused(client_for, manager):
    response = client_for(manager).post(reverse("accounts:tokens"), {"name": "nothing"})
    assert response.status_code == 200 and "scopes" in response.context["form"].errors
    assert response.context["raw_token"] is None and not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_revoke_revokes_and_is_audited(client_for, manager):
    client = client_for(manager)
    client.post(reverse("accounts:tokens"), {"name": "POS", "scopes": ["customers:read"]})
    token = ApiToken.objects.get(name="POS")
    assert client.get(reverse("accounts:token_revoke", args=[token.pk])).status_code == 405
    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_usable()
    assert AuditEntry.objects.filter(action="token.revoke", object_id=str(token.pk)).exists()


@pytest.mark.django_db
def test_audit_log_filters_by_actor_and_by_object_name(client_for, users, manager):
    from fidelis.customers.services import customer_create

    customer_create(actor=manager, data={"name": "张三"})
    customer_create(actor=users[Role.SALES], data={"name": "李四"})
    client = client_for(manager)
    by_actor = client.get(reverse("accounts:audit"), {"actor": "sales"}).context["page"]
    assert [e.object_repr.split(" ")[0] for e in by_actor] == ["李四"]
    by_name = client.get(reverse("accounts:audit"), {"object": "张三"}).context["page"]
    assert {e.action for e in by_name} == {"customer.create"} and len(by_name) == 1


@pytest.mark.django_db
def test_audit_log_paginates_and_keeps_the_filter(client_for, manager):
    from fidelis.accounts.services import audit_record

    for i in range(60):
        audit_record(actor=manager, action="customer.export", object_repr=f"export {i}")
    body = client_for(manager).get(reverse("accounts:audit"), {"action": "customer.export"}).content.decode()
    assert "action=customer.export&amp;page=2" in body

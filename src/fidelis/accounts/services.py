"""Writes on users, tokens and the audit log."""

import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.errors import AccountCode
from fidelis.accounts.middleware import current_ip
from fidelis.accounts.models import ApiScope, ApiToken, AuditEntry, Role, User, hash_token
from fidelis.core.errors import DomainError


def audit_record(*, actor: User | None, action: str, obj: Any = None, object_type: str = "",
                 object_id: str = "", object_repr: str = "", changes: dict | None = None,
                 via: str = "web") -> AuditEntry:
    """Append one audit entry (call inside the transaction of the change it records)."""
    entry = audit_entry(actor=actor, action=action, obj=obj, object_type=object_type, object_id=object_id,
                        object_repr=object_repr, changes=changes, via=via)
    entry.save(force_insert=True)
    return entry


def audit_entry(*, actor: User | None, action: str, obj: Any = None, object_type: str = "", object_id: str = "",
                object_repr: str = "", changes: dict | None = None, via: str = "web") -> AuditEntry:
    """Return an unsaved audit entry, for a change that writes many at once (`AuditEntry.objects.bulk_create`)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(getattr(obj, "public_id", None) or obj.pk)
        object_repr = object_repr or str(obj)[:200]
    return AuditEntry(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action, object_type=object_type, object_id=object_id, object_repr=object_repr[:200],
        changes=changes or {}, ip_address=current_ip.get(), via=via,
    )


@transaction.atomic(durable=True)
def user_create(*, actor: User | None, username: str, password: str, role: str,
                display_name: str = "", email: str = "") -> User:
    """Create a staff user with a role."""
    if role not in Role.values:
        raise DomainError(_("Unknown role."), code=AccountCode.INVALID_ROLE, field="role")
    if User.objects.filter(username=username).exists():
        raise DomainError(_("This user name is taken."), code=AccountCode.USERNAME_TAKEN, field="username")
    user = User(username=username, role=role, display_name=display_name, email=email)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(actor=actor, action="user.create", obj=user, changes={"role": [None, role]})
    return user


@transaction.atomic(durable=True)
def user_set_role(*, actor: User, user: User, role: str, is_active: bool | None = None) -> User:
    """Change a user's role (and whether the account is active)."""
    if role not in Role.values:
        raise DomainError(_("Unknown role."), code=AccountCode.INVALID_ROLE, field="role")
    changes: dict[str, list] = {}
    if user.role != role:
        changes["role"] = [user.role, role]
        user.role = role
    if is_active is not None and user.is_active != is_active:
        if user.pk == actor.pk and not is_active:
            raise DomainError(_("You cannot deactivate your own account."), code=AccountCode.SELF_DEACTIVATE, field="is_active")
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
    if changes:
        user.save(update_fields=["role", "is_active"])
        audit_record(actor=actor, action="user.set_role", obj=user, changes=changes)
    return user


def user_set_language(*, user: User, language: str) -> User:
    """Remember the language the user chose, for what is sent to them (reminders by e-mail)."""
    from django.conf import settings

    if language not in dict(settings.LANGUAGES):
        raise DomainError(_("Unknown language."), code=AccountCode.UNKNOWN_LANGUAGE, field="language")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


@transaction.atomic(durable=True)
def api_token_create(*, actor: User, user: User, name: str, scopes: list[str],
                     expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token; return it with the raw secret, which is shown once and never stored."""
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        raise DomainError(_("Unknown scope: %(scope)s") % {"scope": ", ".join(unknown)}, code=AccountCode.INVALID_SCOPE,
                          field="scopes")
    if not name.strip():
        raise DomainError(_("A token needs a name."), code=AccountCode.REQUIRED, field="name")
    raw = "fid_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name.strip(), prefix=raw[:10], token_hash=hash_token(raw),
                                    scopes=sorted(set(scopes)), expires_at=expires_at)
    audit_record(actor=actor, action="token.create", obj=token, changes={"scopes": [None, token.scopes]})
    return token, raw


@transaction.atomic(durable=True)
def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke a token at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="token.revoke", obj=token)
    return token

"""Who calls the API: bearer tokens (`Authorization: Bearer fid_…`) or the signed-in session, and what they may do.

A token acts as its user: the role's capabilities apply to it as well as the token's scopes.
Session users (the web UI, the docs page) have every scope; their unsafe requests need the CSRF token.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.security import HttpBearer, SessionAuth

from fidelis.accounts.errors import AccountCode
from fidelis.accounts.models import ApiScope, ApiToken, hash_token
from fidelis.accounts.permissions import CAPABILITIES, has_capability
from fidelis.core.errors import DomainError, PermissionDenied

TOKEN_PREFIX = "fid_"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough to see use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class NotAuthenticated(DomainError):
    status = 401


class TokenAuth(HttpBearer):
    """Authenticate `Authorization: Bearer fid_…` by the token's sha256 hash."""

    openapi_description = gettext_lazy("API token: Authorization: Bearer fid_…")

    def authenticate(self, request: HttpRequest, token: str):
        token = token.strip()
        api_token = None
        if token.startswith(TOKEN_PREFIX):
            api_token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
        if api_token is None or not api_token.user.is_active:
            raise NotAuthenticated(_("The API token is not valid."), code=AccountCode.TOKEN_INVALID)
        now = timezone.now()
        if api_token.revoked_at is not None:
            raise NotAuthenticated(_("The API token was revoked."), code=AccountCode.TOKEN_REVOKED)
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise NotAuthenticated(_("The API token has expired."), code=AccountCode.TOKEN_EXPIRED)
        if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
            api_token.last_used_at = now
        request.api_token = api_token
        request.user = api_token.user
        return api_token.user


class SessionUserAuth(SessionAuth):
    """The signed-in web session (with CSRF on unsafe methods); every scope, the role's capabilities."""

    def authenticate(self, request: HttpRequest, key):
        user = super().authenticate(request, key)
        if user is not None and user.is_active:
            request.api_token = None
            return user
        return None


token_auth = TokenAuth()
session_auth = SessionUserAuth()
API_AUTH = [token_auth, session_auth]


def request_scopes(request: HttpRequest) -> list[str]:
    """Return the scopes of the request: the token's, or all of them for a session."""
    api_token = getattr(request, "api_token", None)
    if api_token is None:
        return list(ApiScope.values)
    return [s for s in api_token.scopes if s in ApiScope.values]


def check_access(request: HttpRequest, *, scope: str, capability: str) -> None:
    """Raise PermissionDenied unless the request has the scope and its user the capability."""
    if scope not in request_scopes(request):
        raise PermissionDenied(_("This API token lacks the scope “%(scope)s”.") % {"scope": scope},
                               code=AccountCode.MISSING_SCOPE, scope=scope)
    if not has_capability(request.auth, capability):
        raise PermissionDenied(_("Your role may not do this."), code=AccountCode.FORBIDDEN, capability=capability)


def requires(scope: str, capability: str) -> Callable:
    """Let the API operation run only with the scope and the capability (403 JSON otherwise)."""
    if scope not in ApiScope.values:
        raise KeyError(f"unknown scope {scope!r}")
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            check_access(request, scope=scope, capability=capability)
            return view(request, *args, **kwargs)

        wrapper.required_scope = scope
        wrapper.required_capability = capability
        return wrapper

    return decorator

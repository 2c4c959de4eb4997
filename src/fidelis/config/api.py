"""The HTTP API (OpenAPI at /api/docs): one NinjaAPI, a router per app."""

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from fidelis.accounts.api_auth import API_AUTH, request_scopes
from fidelis.core.errors import DomainError

api = NinjaAPI(
    title="Fidelis API",
    version="1",
    description=str(gettext_lazy(
        "Customers, tags, consent and events; the member club (members, points, coupons, rewards); orders, "
        "products, opportunities, pipelines and contracts; tasks — for POS, shops and WeChat official accounts.")),
    urls_namespace="api",
    auth=API_AUTH,
)

# Where ninja puts the request part in an error location; the field is what follows.
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file", "payload"}


def _error_field(loc: Any) -> str:
    parts = [str(p) for p in (loc or []) if not isinstance(p, int)]
    while parts and parts[0] in _LOCATIONS:
        parts.pop(0)
    return ".".join(parts) or (str(loc[-1]) if loc else "")


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fidelis"'
    return response


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = [{"field": _error_field(e.get("loc")), "type": e.get("type", "invalid"), "message": str(e.get("msg", ""))}
              for e in exc.errors]
    first = errors[0] if errors else {"field": "", "message": ""}
    if first["type"] == "extra_forbidden":
        message = _("Unknown field: %(field)s") % {"field": first["field"]}
    elif first["type"] == "missing":
        message = _("This field is required: %(field)s") % {"field": first["field"]}
    elif first["field"]:
        message = _("The value of “%(field)s” is not valid: %(error)s") % {"field": first["field"],
                                                                           "error": first["message"]}
    else:
        message = _("The request body is not valid JSON.")
    body = {"code": "invalid", "message": message, "field": first["field"], "errors": errors}
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def not_authenticated(request, exc: AuthenticationError):
    body = {"code": "not_authenticated",
            "message": _("Sign in, or send an API token: Authorization: Bearer fid_…")}
    response = api.create_response(request, body, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="fidelis"'
    return response


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    codes = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "throttled"}
    return api.create_response(request, {"code": codes.get(exc.status_code, "error"), "message": str(exc)},
                               status=exc.status_code)


@api.exception_handler(Http404)
def not_found(request, exc: Http404):
    return api.create_response(request, {"code": "not_found", "message": _("Not found.")}, status=404)


class MeOut(Schema):
    username: str
    display_name: str
    role: str
    via: str
    token_name: str | None = None
    scopes: list[str]


@api.get("/me", response=MeOut, tags=["me"], summary="Who is calling")
def me(request):
    user = request.auth
    token = getattr(request, "api_token", None)
    return {"username": user.username, "display_name": user.display_name, "role": user.effective_role,
            "via": "token" if token is not None else "session", "token_name": token.name if token else None,
            "scopes": request_scopes(request)}


api.add_router("/customers", "fidelis.customers.api.router")
api.add_router("/events", "fidelis.events.api.router")
api.add_router("/loyalty", "fidelis.loyalty.api.router")
api.add_router("/sales", "fidelis.sales.api.router")
api.add_router("/work", "fidelis.work.api.router")

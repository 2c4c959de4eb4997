"""The HTTP API (OpenAPI at /api/docs): one NinjaAPI, a router per app."""

from http.client import responses as HTTP_REASONS
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from pydantic import ConfigDict, Field

from fidelis.accounts.api_auth import API_AUTH, request_scopes
from fidelis.core.errors import DomainError
from fidelis.core.types import text_error, text_problem


class ErrorItemOut(Schema):
    field: str
    type: str
    message: str


class ErrorOut(Schema):
    """The body of every refusal."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"description": gettext_lazy(
        "Every refusal: a stable code, a message in the caller's language, and the field it concerns.")})

    code: str = Field(..., description=gettext_lazy(
        "Stable, for programs: invalid, required, not_found, forbidden, …"))
    message: str = Field(..., description=gettext_lazy("For people, in the language of Accept-Language"))
    field: str | None = Field(None, description=gettext_lazy("The field of the request the refusal concerns"))
    errors: list[ErrorItemOut] | dict[str, list[str]] | None = Field(
        None, description=gettext_lazy("Every invalid field, when there are several"))


# What each error status means, documented on every operation that can answer it (in the caller's language:
# the document is built for each request).
ERROR_RESPONSES = {
    400: gettext_lazy("Refused: the request cannot be carried out as sent (the field and the reason are named)"),
    401: gettext_lazy("No valid API token or session"),
    403: gettext_lazy("The token lacks the scope, or the user's role may not do this"),
    404: gettext_lazy("Not found, or not visible to the caller"),
    409: gettext_lazy("Conflicts with what is stored (an idempotency key used for another request, a duplicate)"),
    422: gettext_lazy("A parameter or a field of the body is not valid (named in `field`)"),
}
# What ninja calls a success by its HTTP reason phrase ("OK", "Created"), said in the caller's language.
SUCCESS_RESPONSES = {
    200: gettext_lazy("Success"),
    201: gettext_lazy("Created: the answer is what was written"),
    204: gettext_lazy("Done; the answer has no body"),
}


class TextParser(Parser):
    """Read JSON bodies and query strings, refusing text that no column can store (NUL, lone surrogates)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        found = _bad_text(data, BODY_LOC)
        if found:
            # ninja answers a parser error with a bare 400; `http_error` below turns this cause into a 422.
            raise InvalidText(*found)
        return data

    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        found = _bad_text(result, ("query",))
        if found:
            raise ValidationError([InvalidText(*found).error()])
        return result


class InvalidText(ValueError):
    def __init__(self, loc: tuple, problem: str):
        super().__init__(problem)
        self.loc, self.problem = loc, problem

    def error(self) -> dict[str, Any]:
        return {"loc": self.loc, "type": self.problem, "msg": text_error(self.problem, _error_field(self.loc))}


def _bad_text(value: Any, loc: tuple) -> tuple[tuple, str] | None:
    """Return the location and problem of the first string in the JSON value that cannot be stored."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (loc, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(str(key))
            if problem:
                return loc, problem
            found = _bad_text(item, (*loc, str(key)))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_text(item, (*loc, index))
            if found:
                return found
    return None


class FidelisAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Return the OpenAPI document with the error answers of every operation and their body.

        Built for each request, so that its texts are in the caller's language.
        """
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas["ErrorOut"] = error_schema
        guarded = {self.get_openapi_operation_id(operation)
                   for _prefix, router in self._routers for path_view in router.path_operations.values()
                   for operation in path_view.operations if hasattr(operation.view_func, "required_scope")}
        for methods in schema["paths"].values():
            for operation in methods.values():
                statuses = ERROR_RESPONSES if operation.get("operationId") in guarded else (401,)
                responses = operation.setdefault("responses", {})  # ninja's keys are ints
                for status in statuses:
                    if str(status) not in responses:
                        responses.setdefault(status, {
                            "description": ERROR_RESPONSES[status],
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}})
                for status, answer in responses.items():
                    if answer.get("description") == HTTP_REASONS.get(int(status)):
                        answer["description"] = (SUCCESS_RESPONSES | ERROR_RESPONSES).get(int(status),
                                                                                          answer["description"])
        return schema


api = FidelisAPI(
    title="Fidelis API",
    version="1",
    description=gettext_lazy(
        "Customers, tags, consent and events; the member club (members, points, coupons, rewards); orders, "
        "products, opportunities, pipelines and contracts; tasks — for POS, shops and WeChat official accounts."),
    urls_namespace="api",
    auth=API_AUTH,
    parser=TextParser(),
)

# Where ninja puts the request part in an error location, then (in a body) the handler's parameter, `payload`;
# the field is what follows.
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}
BODY_LOC = ("body", "payload")


def _error_field(loc: Any) -> str:
    parts = [str(p) for p in (loc or []) if not isinstance(p, int)]
    location = parts.pop(0) if parts and parts[0] in _LOCATIONS else None
    if location == "body" and parts[:1] == ["payload"]:
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
    if any((e.get("loc") or ("",))[0] == "path" for e in exc.errors):
        # A path that no object can have (a letter in an id, a NUL) names nothing: 404, as an unknown id.
        return not_found(request, Http404())
    return _invalid(request, exc.errors)


def _invalid(request, raw_errors: list[dict[str, Any]]):
    errors = [{"field": _error_field(e.get("loc")), "type": e.get("type", "invalid"), "message": str(e.get("msg", ""))}
              for e in raw_errors]
    first = errors[0] if errors else {"field": "", "message": ""}
    if first["type"] in ("nul_character", "invalid_text"):
        message = text_error(first["type"], first["field"])
    elif first["type"] == "extra_forbidden":
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
    cause = exc.__cause__
    if isinstance(cause, InvalidText):
        return _invalid(request, [cause.error()])
    if exc.status_code == 400 and isinstance(cause, ValueError):
        return api.create_response(request, {"code": "invalid_json", "message": _("The request body is not valid JSON.")},
                                   status=400)
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


@api.get("/me", response=MeOut, tags=["me"], summary=gettext_lazy("Who is calling"))
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
api.add_router("/sales", "fidelis.pipeline.api.router")
api.add_router("/work", "fidelis.work.api.router")
api.add_router("/feedback", "fidelis.feedback.api.router")

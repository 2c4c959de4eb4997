"""Idempotency-Key on API writes, as payment APIs do it.

A write sent with an `Idempotency-Key` header runs once per caller and key: its successful answer is kept
(`IdempotentRequest`) and given again, byte for byte, to every retry with the same key. The same key with another
method, path or body is refused (409): a key names one request, not one order number. Retries that arrive while
the first request is still running wait for it (the unique index on caller and key holds them) and then get its
answer, so twenty concurrent duplicates make one effect and twenty identical answers. An answer that is not a
success is not kept and its writes are rolled back: the caller may send the key again.
"""

import contextlib
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Header

from fidelis.core.errors import DomainError
from fidelis.core.models import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY = 120
API_PREFIX = "/api/"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEEP = timedelta(days=1)
REPLAYED = "Idempotent-Replayed"
KEY_HEADER = Header(None, alias=HEADER)  # the default of an API route's `idempotency_key` parameter


def check_idempotency_key(key: str | None) -> str | None:
    """Refuse an idempotency key longer than MAX_KEY; return it."""
    if key and len(key) > MAX_KEY:
        raise DomainError(_("An idempotency key has at most 120 characters."), code="invalid",
                          field="idempotency_key")
    return key


def header_idempotency_key(raw: str | None) -> str | None:
    """Return the Idempotency-Key header's value stripped (None when empty), refusing one longer than MAX_KEY."""
    return check_idempotency_key((raw or "").strip() or None)


def caller_of(request: HttpRequest) -> str | None:
    """Return who sends the request: the user of its bearer token, or the signed-in user; None when neither."""
    from fidelis.accounts.models import ApiToken, hash_token

    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        user_id = (ApiToken.objects.filter(token_hash=hash_token(token.strip()), revoked_at__isnull=True)
                   .values_list("user_id", flat=True).first())
        return f"u:{user_id}" if user_id is not None else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"u:{user.pk}"
    return None


def fingerprint_of(request: HttpRequest) -> str:
    """Return the sha256 of the request's method, path and body (JSON compared by value, not by spacing)."""
    body = request.body
    with contextlib.suppress(ValueError, UnicodeDecodeError):  # not JSON: compared as sent
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _conflict() -> JsonResponse:
    return JsonResponse({"code": "idempotency_conflict", "field": "idempotency_key",
                         "message": _("This idempotency key was already used for a different request.")}, status=409)


def _replay(record: IdempotentRequest, fingerprint: str) -> HttpResponse:
    if record.fingerprint != fingerprint:
        return _conflict()
    response = HttpResponse(bytes(record.body), status=record.status, content_type=record.content_type)
    response[REPLAYED] = "true"
    return response


class IdempotencyMiddleware:
    """Run an API write with an Idempotency-Key once per caller and key; answer its retries with the first answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER, "").strip()
        if not key or request.method not in UNSAFE or not request.path.startswith(API_PREFIX) or len(key) > MAX_KEY:
            return self.get_response(request)  # the view itself refuses a key that is too long
        caller = caller_of(request)
        if caller is None:
            return self.get_response(request)  # the API answers 401
        fingerprint = fingerprint_of(request)
        # The entry point of a keyed write: the claim of the key, the view's effects and the kept answer commit
        # together or not at all (exactly once), so the services the view calls join this transaction; durable, so
        # that nothing outside can make it part of a larger one.
        with transaction.atomic(durable=True):
            try:
                # A concurrent request with the same caller and key waits here until the first one commits.
                with transaction.atomic():
                    record = IdempotentRequest.objects.create(caller=caller, key=key, fingerprint=fingerprint,
                                                              status=0, content_type="", body=b"")
            except IntegrityError:
                record = IdempotentRequest.objects.filter(caller=caller, key=key).first()
                if record is not None:
                    return _replay(record, fingerprint)
            response = self.get_response(request)
            if record is not None and 200 <= response.status_code < 300 and not response.streaming:
                record.status, record.content_type = response.status_code, response.get("Content-Type", "")
                record.body = response.content
                record.save(update_fields=["status", "content_type", "body"])
            else:
                transaction.set_rollback(True)
        return response


def idempotent_requests_purge(*, now=None) -> int:
    """Forget the answers kept longer than a day; return how many."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _by_model = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted

"""Outgoing webhooks: events POSTed to outside systems, signed with HMAC-SHA256, retried with back-off.

A manager registers an endpoint (URL, the event types it wants, or "*" for all) and gets its signing secret
once. For each recorded event the handler below writes one `WebhookDelivery` per active, subscribed endpoint
(at most one per endpoint and event: the outbox) and sends it after the commit, through the Celery task
`events.webhook_deliver`. A 2xx answer marks it delivered; anything else (another status, a refused
connection, a timeout after 5 s, a redirect) schedules another attempt 30 s × 2^(attempts − 1) later, at most
6 h, a little earlier at random so that failed deliveries do not return in step; after 8 attempts the delivery
has failed for good and only "retry now" on the webhooks page sends it again. The beat task
`events.webhook_retry_due` sends the deliveries whose time has come, every minute. Deliveries of an inactive
endpoint wait and go out once it is active again.

What the receiver gets::

    POST <url>
    Content-Type: application/json
    X-Fidelis-Event: points.changed
    X-Fidelis-Delivery: 3f9c0a1b2d4e5f60        (the same on every attempt: deduplicate on it)
    X-Fidelis-Timestamp: 1767225600            (Unix seconds of this attempt)
    X-Fidelis-Signature: sha256=<hex>

    {"customer": {"number": "C000123", "public_id": "…"}, "id": "<event public id>",
     "occurred_at": "2026-01-01T08:00:00+00:00", "payload": {…}, "type": "points.changed"}

The signature is the hex HMAC-SHA256, keyed with the endpoint's secret, of the timestamp, a dot and the raw
body bytes: ``hmac(secret, f"{timestamp}.".encode() + body)``. A receiver checks it on the raw body, before
parsing, and refuses old timestamps so that a captured request cannot be replayed later; in Python::

    from fidelis.events.webhooks import verify_signature

    if not verify_signature(secret, request.headers["X-Fidelis-Timestamp"], request.body,
                            request.headers["X-Fidelis-Signature"]):
        return HttpResponse(status=400)

Delivery is at least once: a receiver that answered too late, or a worker that stopped half-way, means the
same delivery can arrive twice. The test event a manager sends by hand has the type "webhook.test", no
customer and an empty payload.
"""

import hashlib
import hmac
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, full_clean_or_raise
from fidelis.core.models import new_public_id
from fidelis.core.tasks import task_send
from fidelis.events.errors import EventCode
from fidelis.events.models import EVENT_TYPE_LABELS, DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from fidelis.events.registry import on_event

TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
# How long a claimed delivery stays out of other workers' reach while it is being sent: far longer than a
# send takes (5 s to connect, 5 s per read), so that only a worker that died half-way lets it go to a later run.
CLAIM_LEASE = timedelta(minutes=5)
SIGNATURE_TOLERANCE_SECONDS = 300
TEST_EVENT_TYPE = "webhook.test"
RECENT_DELIVERIES = 10

EVENT_TYPE_CHOICES = [("*", gettext_lazy("All events"))] + [
    (name, EVENT_TYPE_LABELS[name]) for name in (
        "points.changed", "points.expiring", "tier.changed", "coupon.issued", "coupon.redeemed", "coupon.reversed",
        "member.joined")]


# Signing


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the X-Fidelis-Signature value of a body sent at the given timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes | str, header: str, *,
                     tolerance: int | None = SIGNATURE_TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """Return whether the signature header matches the raw body and the timestamp is recent enough.

    `body` is the request body as received (bytes; a str is taken as UTF-8); `tolerance` is the largest age
    (and clock skew) accepted, in seconds, None accepting any age; `now` is Unix seconds, the clock by default.
    """
    if isinstance(body, str):
        body = body.encode()
    if not header or not header.startswith("sha256="):
        return False
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance is not None and abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, str(timestamp), body), header)


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts: doubling from 30 s, at most 6 h."""
    delay = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return delay * random.uniform(0.9, 1.0)


# Reads


def webhook_endpoints_for_page() -> QuerySet[WebhookEndpoint]:
    """Return the endpoints with their latest deliveries and counts of pending and failed ones."""
    recent = WebhookDelivery.objects.order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    return (WebhookEndpoint.objects.select_related("created_by")
            .annotate(pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
                      failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)))
            .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="recent_deliveries"))
            .order_by("-is_active", "name", "id"))


def webhook_endpoint_get(public_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(public_id=public_id).first()


def webhook_delivery_get(public_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint").filter(public_id=public_id).first()


# Managing endpoints


def _clean_types(event_types: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in event_types if t and t.strip()))
    return ["*"] if "*" in cleaned else cleaned


@transaction.atomic
def webhook_endpoint_create(*, actor, name: str, url: str, event_types: list[str]) -> WebhookEndpoint:
    """Register an endpoint with a new secret; the caller shows the secret once."""
    endpoint = WebhookEndpoint(name=name.strip(), url=url.strip(), event_types=_clean_types(event_types),
                               created_by=actor if getattr(actor, "is_authenticated", False) else None)
    full_clean_or_raise(endpoint, exclude=["created_by"])
    endpoint.save()
    audit_record(actor=actor, action="webhook.create", obj=endpoint,
                 changes={"url": [None, endpoint.url], "event_types": [None, endpoint.event_types]})
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, actor, endpoint: WebhookEndpoint, name: str, url: str, event_types: list[str],
                            is_active: bool) -> WebhookEndpoint:
    """Change an endpoint's name, URL, subscriptions or activity."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    new = {"name": name.strip(), "url": url.strip(), "event_types": _clean_types(event_types),
           "is_active": is_active}
    changes = {field: [getattr(endpoint, field), value] for field, value in new.items()
               if getattr(endpoint, field) != value}
    for field, value in new.items():
        setattr(endpoint, field, value)
    full_clean_or_raise(endpoint, exclude=["created_by"])
    if changes:
        endpoint.save(update_fields=[*changes, "updated_at"])
        audit_record(actor=actor, action="webhook.update", obj=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def webhook_endpoint_deactivate(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending to an endpoint; its pending deliveries wait until it is active again."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=actor, action="webhook.deactivate", obj=endpoint, changes={"is_active": [True, False]})
    return endpoint


@transaction.atomic
def webhook_endpoint_ping(*, actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a test event for the endpoint and send it after the commit."""
    if not endpoint.is_active:
        raise DomainError(_("This endpoint is inactive; activate it first."), code=EventCode.INACTIVE)
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=None, event_type=TEST_EVENT_TYPE, next_attempt_at=now,
        body={"id": new_public_id(), "type": TEST_EVENT_TYPE, "occurred_at": now.isoformat(), "customer": None,
              "payload": {}})
    audit_record(actor=actor, action="webhook.test", obj=endpoint)
    _send_after_commit([delivery.pk])
    return delivery


@transaction.atomic
def webhook_delivery_retry(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a failed delivery once more, now."""
    delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    if delivery.status != DeliveryStatus.FAILED:
        raise DomainError(_("Only a failed delivery can be retried."), code=EventCode.NOT_FAILED)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    audit_record(actor=actor, action="webhook.retry", obj=delivery.endpoint,
                 changes={"delivery": [None, delivery.public_id]})
    _send_after_commit([delivery.pk])
    return delivery


# The outbox


@on_event("*", batch=True)
def webhooks_on_events(event_ids: list[int]) -> None:
    """Queue a batch of events for the endpoints; one query tells when there is none (the usual case)."""
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).order_by("pk"))
    if endpoints:
        for event_id in event_ids:
            _enqueue(event_id, endpoints)


def event_body(event: Event) -> dict:
    """Return the JSON body that describes an event to a receiver."""
    customer = event.customer
    return {
        "id": event.public_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "customer": {"public_id": customer.public_id, "number": customer.number},
        "payload": event.payload,
    }


def webhook_deliveries_enqueue(*, event_id: int) -> list[WebhookDelivery]:
    """Queue the event once for every active endpoint subscribed to its type; return the new deliveries."""
    # Most events have no receiver: one query outside a transaction tells.
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True).order_by("pk"))
    if not endpoints:
        return []
    return _enqueue(event_id, endpoints)


@transaction.atomic
def _enqueue(event_id: int, endpoints: list[WebhookEndpoint]) -> list[WebhookDelivery]:
    event = Event.objects.select_related("customer").filter(pk=event_id).first()
    if event is None:
        return []
    body = event_body(event)
    created = []
    for endpoint in endpoints:
        if not endpoint.subscribes_to(event.type):
            continue
        try:
            # A savepoint: a redelivered dispatch finds the row there and moves on to the next endpoint.
            with transaction.atomic():
                created.append(WebhookDelivery.objects.create(endpoint=endpoint, event=event, event_type=event.type,
                                                              body=body))
        except IntegrityError:
            continue
    _send_after_commit([d.pk for d in created])
    return created


def _send_after_commit(delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return
    from fidelis.events.tasks import webhook_deliver

    def send() -> None:
        # A delivery the broker does not take now is still due: `events.webhook_retry_due` sends it.
        for delivery_id in delivery_ids:
            task_send(webhook_deliver, delivery_id)

    transaction.on_commit(send)


# Sending


def _claim(now: datetime, delivery_id: int | None = None) -> WebhookDelivery | None:
    """Take one due delivery for this worker, counting the attempt; None when there is none."""
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
                                             endpoint__is_active=True)
        if delivery_id is not None:
            due = due.filter(pk=delivery_id)
        # Two workers must never send the same delivery at once: the row lock (PostgreSQL) or the write
        # transaction (SQLite) makes the claim exclusive, and a claimed row is not due again until the lease
        # has run out. skip_locked lets another worker take the next due row instead of waiting.
        delivery = (due.select_for_update(skip_locked=True, of=("self",)).select_related("endpoint")
                    .order_by("next_attempt_at", "pk").first())
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + CLAIM_LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
        return delivery


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx one: the body is not sent on to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def encode_body(body: dict) -> bytes:
    """Return the bytes sent for a delivery body (the same bytes on every attempt)."""
    return json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """Send the delivery once; return the HTTP status (None when there was no answer) and an error text."""
    body = encode_body(delivery.body)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(delivery.endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "Fidelis-Webhooks/1",
        "X-Fidelis-Event": delivery.event_type,
        "X-Fidelis-Delivery": delivery.public_id,
        "X-Fidelis-Timestamp": timestamp,
        "X-Fidelis-Signature": sign(delivery.endpoint.secret, timestamp, body),
    })
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        with exc:
            answer = exc.read(200).decode("utf-8", errors="replace").strip()
        return exc.code, f"HTTP {exc.code} {exc.reason}" + (f": {answer}" if answer else "")
    except urllib.error.URLError as exc:
        return None, str(exc.reason)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, str(exc) or exc.__class__.__name__


def _record(delivery: WebhookDelivery, status_code: int | None, error: str, now: datetime) -> None:
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.DELIVERED, now, None
        error = ""
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.last_status_code, delivery.last_error = status_code, error[:500]
    fields = ["status", "next_attempt_at", "delivered_at", "last_status_code", "last_error"]
    # Only while the claim is still this worker's: after a lease ran out, the newer attempt owns the row.
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts) \
        .update(**{f: getattr(delivery, f) for f in fields}, updated_at=timezone.now())


def _send(delivery: WebhookDelivery, now: datetime | None) -> WebhookDelivery:
    status_code, error = _post(delivery)
    _record(delivery, status_code, error, now or timezone.now())
    return delivery


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Send one delivery if it is due and no other worker has it; return it, or None when nothing was sent."""
    delivery = _claim(now or timezone.now(), delivery_id)
    return _send(delivery, now) if delivery is not None else None


def webhook_deliveries_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send the deliveries whose time has come, each at most once; return how many were sent."""
    sent = 0
    while sent < limit:
        delivery = _claim(now or timezone.now())
        if delivery is None:
            break
        _send(delivery, now)
        sent += 1
    return sent

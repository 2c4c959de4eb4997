"""Outgoing webhooks, sent over real HTTP to a receiver listening on 127.0.0.1."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.events.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from fidelis.events.services import record_event
from fidelis.events.tasks import dispatch_event, webhook_retry_due
from fidelis.events.webhooks import (
    MAX_ATTEMPTS,
    verify_signature,
    webhook_deliveries_enqueue,
    webhook_deliveries_send_due,
    webhook_endpoint_create,
    webhook_endpoint_deactivate,
    webhook_endpoint_update,
)
from tests.events.test_worker import worker  # noqa: F401 - the real Celery worker over Redis
from tests.factories import CustomerFactory, UserFactory

# Real commits: the deliveries go out after the commit, as they do in production.
pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers 500 to the first `failures`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.failures = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    failing = len(receiver.requests) <= receiver.failures
                time.sleep(receiver.delay)
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        return [r["headers"]["X-Fidelis-Event"] for r in self.requests]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def manager(db):
    """Only the manager: hashing the passwords of every role's user would be most of each test's time."""
    return UserFactory(username=Role.MANAGER, role=Role.MANAGER)


@pytest.fixture
def endpoint(manager, receiver):
    return webhook_endpoint_create(actor=manager, name="会员小程序", url=receiver.url,
                                   event_types=["points.changed", "tier.changed"])


@pytest.fixture
def customer(db):
    return CustomerFactory(name="王芳")


def _points_changed(customer, **kwargs) -> Event:
    event, _created = record_event(customer=customer, type="points.changed", payload={"points": 10, "balance": 110},
                                   **kwargs)
    return event


def test_event_is_posted_with_the_documented_body_and_a_signature_that_verifies(endpoint, receiver, customer):
    # when a subscribed event is recorded and committed
    event = _points_changed(customer)
    # then the receiver got one signed POST describing it
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers, body = request["headers"], request["body"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event=event)
    assert request["path"] == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Fidelis-Event"] == "points.changed"
    assert headers["X-Fidelis-Delivery"] == delivery.public_id
    assert abs(int(headers["X-Fidelis-Timestamp"]) - time.time()) < 60
    assert json.loads(body) == {
        "id": event.public_id, "type": "points.changed", "occurred_at": event.occurred_at.isoformat(),
        "customer": {"public_id": customer.public_id, "number": customer.number},
        "payload": {"points": 10, "balance": 110},
    }
    assert verify_signature(endpoint.secret, headers["X-Fidelis-Timestamp"], body, headers["X-Fidelis-Signature"])
    # and the signature binds the secret, the body and the timestamp
    assert not verify_signature("whsec_other", headers["X-Fidelis-Timestamp"], body,
                                headers["X-Fidelis-Signature"])
    assert not verify_signature(endpoint.secret, headers["X-Fidelis-Timestamp"], body.replace(b"110", b"999"),
                                headers["X-Fidelis-Signature"])
    assert not verify_signature(endpoint.secret, str(int(headers["X-Fidelis-Timestamp"]) + 1), body,
                                headers["X-Fidelis-Signature"])
    # and an old request is refused unless the receiver accepts any age
    later = int(headers["X-Fidelis-Timestamp"]) + 3600
    assert not verify_signature(endpoint.secret, headers["X-Fidelis-Timestamp"], body,
                                headers["X-Fidelis-Signature"], now=later)
    assert verify_signature(endpoint.secret, headers["X-Fidelis-Timestamp"], body, headers["X-Fidelis-Signature"],
                            now=later, tolerance=None)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 204)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None


def test_failed_delivery_is_retried_after_the_back_off_then_delivered(endpoint, receiver, customer):
    # given a receiver that answers 500 once
    receiver.failures = 1
    before = timezone.now()
    event = _points_changed(customer)
    after = timezone.now()
    delivery = WebhookDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert "500" in delivery.last_error
    # then the next attempt waits about 30 s
    assert before + timedelta(seconds=27) <= delivery.next_attempt_at <= after + timedelta(seconds=30)
    # when the beat task runs before that time, nothing is sent again
    assert webhook_retry_due.delay().get() == 0
    assert len(receiver.requests) == 1
    # when it runs once the pause has passed
    assert webhook_deliveries_send_due(now=delivery.next_attempt_at + timedelta(seconds=1)) == 1
    # then the same delivery, with the same body, arrived again and is delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 2, 204)
    assert delivery.last_error == ""
    first, second = receiver.requests
    assert first["headers"]["X-Fidelis-Delivery"] == second["headers"]["X-Fidelis-Delivery"] == delivery.public_id
    assert first["body"] == second["body"]
    assert verify_signature(endpoint.secret, second["headers"]["X-Fidelis-Timestamp"], second["body"],
                            second["headers"]["X-Fidelis-Signature"])


def test_beat_task_sends_the_deliveries_whose_time_has_come(endpoint, receiver, customer):
    # given a delivery that failed and whose pause is over
    receiver.failures = 1
    delivery = WebhookDelivery.objects.get(event=_points_changed(customer))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # when the beat task runs
    sent = webhook_retry_due.delay().get()
    # then it was sent and delivered
    delivery.refresh_from_db()
    assert sent == 1 and len(receiver.requests) == 2
    assert delivery.status == DeliveryStatus.DELIVERED


def test_delivery_gives_up_after_the_last_attempt_with_growing_pauses(endpoint, receiver, customer):
    # given a receiver that always fails
    receiver.failures = 100
    delivery = WebhookDelivery.objects.get(event=_points_changed(customer))
    clock = timezone.now()
    pauses = []
    # when every retry comes due
    for _ in range(MAX_ATTEMPTS - 1):
        delivery.refresh_from_db()
        pauses.append(delivery.next_attempt_at)
        clock = delivery.next_attempt_at
        assert webhook_deliveries_send_due(now=clock) == 1
    # then it tried MAX_ATTEMPTS times with doubling pauses and gave up
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, MAX_ATTEMPTS,
                                                                              None)
    assert len(receiver.requests) == MAX_ATTEMPTS
    gaps = [(b - a).total_seconds() for a, b in zip(pauses, pauses[1:], strict=False)]
    assert all(b > a for a, b in zip(gaps, gaps[1:], strict=False))
    assert webhook_deliveries_send_due(now=clock + timedelta(days=30)) == 0
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_inactive_endpoint_gets_nothing(manager, endpoint, receiver, customer):
    # given a second, inactive endpoint subscribed to everything
    other = Receiver()
    try:
        inactive = webhook_endpoint_create(actor=manager, name="旧系统", url=other.url, event_types=["*"])
        webhook_endpoint_deactivate(actor=manager, endpoint=inactive)
        # when an event is recorded
        _points_changed(customer)
        # then only the active endpoint got it
        assert len(receiver.requests) == 1
        assert other.requests == []
        assert not WebhookDelivery.objects.filter(endpoint=inactive).exists()
    finally:
        other.close()


def test_deliveries_of_a_deactivated_endpoint_wait_until_it_is_active_again(manager, endpoint, receiver, customer):
    # given a delivery waiting for a retry when the endpoint is deactivated
    receiver.failures = 1
    delivery = WebhookDelivery.objects.get(event=_points_changed(customer))
    webhook_endpoint_deactivate(actor=manager, endpoint=endpoint)
    # when its time comes, nothing is sent
    later = timezone.now() + timedelta(hours=1)
    assert webhook_deliveries_send_due(now=later) == 0
    # when the endpoint is active again, it goes out
    webhook_endpoint_update(actor=manager, endpoint=endpoint, name=endpoint.name, url=endpoint.url,
                            event_types=endpoint.event_types, is_active=True)
    assert webhook_deliveries_send_due(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.requests) == 2


def test_endpoint_receives_only_the_event_types_it_subscribed_to(manager, receiver, customer):
    # given one endpoint for tier changes and one for everything
    everything = Receiver()
    try:
        tiers = webhook_endpoint_create(actor=manager, name="等级", url=receiver.url, event_types=["tier.changed"])
        webhook_endpoint_create(actor=manager, name="全部", url=everything.url, event_types=["*", "tier.changed"])
        # when a points change, a tier change and a coupon are recorded
        for event_type in ("points.changed", "tier.changed", "coupon.issued"):
            record_event(customer=customer, type=event_type, payload={})
        # then each got what it asked for
        assert receiver.types() == ["tier.changed"]
        assert everything.types() == ["points.changed", "tier.changed", "coupon.issued"]
        assert WebhookEndpoint.objects.get(name="全部").event_types == ["*"]
        assert WebhookDelivery.objects.filter(endpoint=tiers).count() == 1
    finally:
        everything.close()


def test_the_same_event_is_queued_once_per_endpoint(endpoint, receiver, customer):
    # given an event recorded twice with one idempotency key
    event = _points_changed(customer, idempotency_key="pts-1")
    _points_changed(customer, idempotency_key="pts-1")
    # when its dispatch is redelivered and the outbox asked again
    dispatch_event(event.pk)
    assert webhook_deliveries_enqueue(event_id=event.pk) == []
    # then one delivery, sent once
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    assert len(receiver.requests) == 1


def test_points_change_in_the_loyalty_program_reaches_the_endpoint(manager, endpoint, receiver, customer):
    from fidelis.loyalty.services import member_enrol, points_adjust
    from fidelis.loyalty.templates import starter_program

    # given a member of a live program
    program = starter_program(actor=manager, name="星河会员俱乐部")
    member, _created = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    receiver.requests.clear()
    # when a manager adjusts the points
    points_adjust(actor=manager, member=member, points=300, reason="补偿")
    # then the endpoint got the points change
    assert receiver.types() == ["points.changed"]
    body = json.loads(receiver.requests[0]["body"])
    assert body["customer"]["number"] == customer.number
    assert body["payload"]["points"] == 300


@pytest.mark.postgres_only
def test_two_workers_never_send_the_same_delivery(manager, receiver):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    # given six deliveries due again at once, and a slow receiver
    endpoint = webhook_endpoint_create(actor=manager, name="慢", url=receiver.url, event_types=["*"])
    for i in range(6):
        record_event(customer=CustomerFactory(name=f"客户{i}"), type="points.changed", payload={})
    assert len(receiver.requests) == 6
    receiver.requests.clear()
    WebhookDelivery.objects.update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now())
    receiver.delay = 0.2
    # when three workers run the retry at the same moment
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def run():
        try:
            barrier.wait()
            counts.append(webhook_deliveries_send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then every delivery went out exactly once
    sent = [r["headers"]["X-Fidelis-Delivery"] for r in receiver.requests]
    assert sorted(sent) == sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("public_id",
                                                                                               flat=True))
    assert sum(counts) == 6
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


@pytest.mark.postgres_only
def test_a_celery_worker_sends_the_delivery(request, endpoint, receiver, customer):
    # given a worker serving the broker (skipped on SQLite and without Redis)
    process = request.getfixturevalue("worker")
    # when an event is recorded
    event = _points_changed(customer)
    # then the worker queues and sends it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not receiver.requests:
        assert process.poll() is None, process.stdout.read().decode(errors="replace")
        time.sleep(0.2)
    assert receiver.types() == ["points.changed"]
    deadline = time.monotonic() + 10
    delivery = WebhookDelivery.objects.get(event=event)
    while delivery.status != DeliveryStatus.DELIVERED and time.monotonic() < deadline:
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


# The managers' pages


def test_manager_creates_a_webhook_and_sees_its_secret_once(client_for, manager, receiver):
    client = client_for(manager)
    # when a manager registers an endpoint
    response = client.post(reverse("events:webhooks"), {"name": "小程序", "url": receiver.url,
                                                        "event_types": ["points.changed", "tier.changed"]})
    # then its secret is shown in the answer, and never again
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["points.changed", "tier.changed"] and endpoint.created_by == manager
    page = client.get(reverse("events:webhooks"))
    assert endpoint.secret not in page.content.decode() and endpoint.url in page.content.decode()
    assert AuditEntry.objects.filter(action="webhook.create", object_id=endpoint.public_id).exists()


def test_create_refuses_a_url_that_is_not_http(client_for, manager):
    response = client_for(manager).post(reverse("events:webhooks"), {
        "name": "x", "url": "ftp://example.com/hook", "event_types": ["*"]})
    assert response.status_code == 200
    assert "url" in response.context["form"].errors
    assert not WebhookEndpoint.objects.exists()


def test_manager_edits_the_subscriptions(client_for, manager, endpoint):
    response = client_for(manager).post(reverse("events:webhook_edit", args=[endpoint.public_id]), {
        "name": "会员小程序", "url": endpoint.url, "event_types": ["coupon.issued"], "is_active": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["coupon.issued"] and endpoint.is_active
    entry = AuditEntry.objects.get(action="webhook.update")
    assert entry.changes == {"event_types": [["points.changed", "tier.changed"], ["coupon.issued"]]}


def test_manager_deactivates_a_webhook(client_for, manager, endpoint, receiver, customer):
    response = client_for(manager).post(reverse("events:webhook_deactivate", args=[endpoint.public_id]))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    _points_changed(customer)
    assert receiver.requests == []


def test_manager_sends_a_test_event(client_for, manager, endpoint, receiver):
    client = client_for(manager)
    response = client.post(reverse("events:webhook_test", args=[endpoint.public_id]))
    assert response.status_code == 302
    assert receiver.types() == ["webhook.test"]
    request = receiver.requests[0]
    body = json.loads(request["body"])
    assert body["type"] == "webhook.test" and body["customer"] is None
    assert verify_signature(endpoint.secret, request["headers"]["X-Fidelis-Timestamp"], request["body"],
                            request["headers"]["X-Fidelis-Signature"])
    page = client.get(reverse("events:webhooks")).content.decode()
    assert "webhook.test" in page


def test_manager_retries_a_failed_delivery_now(client_for, manager, endpoint, receiver, customer):
    # given a delivery that failed for good
    receiver.failures = 1
    delivery = WebhookDelivery.objects.get(event=_points_changed(customer))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    client = client_for(manager)
    retry_url = reverse("events:webhook_delivery_retry", args=[delivery.public_id])
    assert retry_url in client.get(reverse("events:webhooks")).content.decode()
    # when the manager retries it
    response = client.post(retry_url)
    # then it is sent at once and delivered
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.MANAGER])
def test_webhook_pages_are_refused_to_everyone_but_managers(client_for, role, endpoint, receiver, customer):
    receiver.failures = 1
    delivery = WebhookDelivery.objects.get(event=_points_changed(customer))
    client = client_for(UserFactory(username=role, role=role))
    gets = [reverse("events:webhooks"), reverse("events:webhook_edit", args=[endpoint.public_id])]
    posts = [reverse("events:webhooks"), reverse("events:webhook_edit", args=[endpoint.public_id]),
             reverse("events:webhook_deactivate", args=[endpoint.public_id]),
             reverse("events:webhook_test", args=[endpoint.public_id]),
             reverse("events:webhook_delivery_retry", args=[delivery.public_id])]
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, {"name": "x", "url": receiver.url, "event_types": ["*"]}).status_code == 403, url
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.count() == 1
    assert len(receiver.requests) == 1
    assert "events:webhooks" not in {item["name"] for item in client.get(reverse("web:home")).context["nav_items"]}

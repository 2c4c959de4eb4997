import threading

import pytest
from django.db import connection
from django.test import Client

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.events.models import Event
from tests.factories import CustomerFactory, UserFactory


def _auth(manager, user=None, scopes=("events:write",)):
    _token, raw = api_token_create(actor=manager, user=user or manager, name="pos", scopes=list(scopes))
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client, auth, body, **extra):
    return client.post("/api/events", body, content_type="application/json", **auth, **extra)


@pytest.mark.django_db
def test_event_post_records_event_then_same_key_gives_it_back(client, manager):
    # given
    customer = CustomerFactory()
    auth = _auth(manager)
    body = {"customer": customer.public_id, "type": "order.paid", "channel": "store", "touchpoint": "上海一店",
            "summary": "购买 2 件", "payload": {"amount": "199.00"}, "idempotency_key": "pos-1-0001",
            "occurred_at": "2024-03-01T12:30:00+08:00"}
    # when
    first = _post(client, auth, body)
    second = _post(client, auth, body)
    # then
    assert first.status_code == 201
    assert first.json()["created"] is True
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert first.json()["public_id"] == second.json()["public_id"]
    event = Event.objects.get(idempotency_key="pos-1-0001")
    assert (event.customer, event.type, event.channel, event.touchpoint) == (customer, "order.paid", "store", "上海一店")
    assert event.payload == {"amount": "199.00"}
    assert event.actor == manager
    assert event.occurred_at.isoformat() == "2024-03-01T04:30:00+00:00"


@pytest.mark.django_db
def test_event_post_idempotency_key_header(client, manager):
    customer = CustomerFactory()
    auth = _auth(manager)
    body = {"customer": customer.public_id, "type": "store.visited"}
    assert _post(client, auth, body, HTTP_IDEMPOTENCY_KEY="visit-7").status_code == 201
    again = _post(client, auth, body, HTTP_IDEMPOTENCY_KEY="visit-7")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Event.objects.filter(idempotency_key="visit-7").count() == 1


@pytest.mark.django_db
def test_event_post_same_key_for_another_customer_or_type_is_409(client, manager):
    a, b = CustomerFactory(), CustomerFactory()
    auth = _auth(manager)
    paid = {"amount": "10.00", "order_no": "O-1"}
    _post(client, auth, {"customer": a.public_id, "type": "order.paid", "payload": paid, "idempotency_key": "k-1"})
    for body in ({"customer": b.public_id, "type": "order.paid", "payload": paid, "idempotency_key": "k-1"},
                 {"customer": a.public_id, "type": "order.refunded", "payload": paid, "idempotency_key": "k-1"}):
        response = _post(client, auth, body)
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_conflict"
        assert response.json()["field"] == "idempotency_key"
    assert Event.objects.filter(type__in=["order.paid", "order.refunded"]).count() == 1
    assert not Event.objects.filter(customer=b).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field, value", [
    ("phone", "139 1234 5678"), ("phone", "+86-139-1234-5678"), ("phone", "008613912345678"),
    ("customer", "13912345678"), ("customer", "+86 139 1234 5678"),
    ("customer_number", "c00000077"), ("customer", "C00000077"),
])
def test_event_post_finds_customer_by_number_or_phone_in_any_format(client, manager, field, value):
    customer = CustomerFactory(number="C00000077", phone="13912345678")
    CustomerFactory(phone="13800001111")
    response = _post(client, _auth(manager), {field: value, "type": "wechat.followed"})
    assert response.status_code == 201, response.content
    assert response.json()["customer"] == customer.public_id
    assert Event.objects.filter(customer=customer, type="wechat.followed").count() == 1


@pytest.mark.django_db
def test_event_post_unknown_customer_is_404_naming_the_field(client, manager):
    CustomerFactory(phone="13912345678")
    for field, value in (("customer", "nosuchcustomer1"), ("phone", "13700000000"), ("customer_number", "X1")):
        response = _post(client, _auth(manager), {field: value, "type": "store.visited"})
        assert response.status_code == 404
        assert response.json()["field"] == field
    assert not Event.objects.filter(type="store.visited").exists()


@pytest.mark.django_db
def test_event_post_bad_input_is_refused_naming_the_field(client, manager):
    customer = CustomerFactory()
    auth = _auth(manager)
    cases = [
        ({"customer": customer.public_id, "type": "store.visited", "colour": "red"}, 422, "colour"),
        ({"customer": customer.public_id, "type": "store.visited", "payload": [1, 2]}, 422, "payload"),
        ({"customer": customer.public_id, "type": "store.visited", "occurred_at": "yesterday"}, 422, "occurred_at"),
        ({"customer": customer.public_id, "type": "store.visited", "channel": "x" * 17}, 422, "channel"),
        ({"customer": customer.public_id}, 422, "type"),
        ({"customer": customer.public_id, "type": "nodots"}, 400, "type"),
        ({"type": "store.visited"}, 400, "customer"),
        ({"phone": "12", "type": "store.visited"}, 400, "phone"),
    ]
    for body, status, field in cases:
        response = _post(client, auth, body)
        assert (response.status_code, response.json()["field"]) == (status, field), body
    assert not Event.objects.filter(type="store.visited").exists()


@pytest.mark.django_db
def test_event_post_header_and_body_keys_must_agree(client, manager):
    customer = CustomerFactory()
    response = _post(client, _auth(manager), {"customer": customer.public_id, "type": "store.visited",
                                              "idempotency_key": "a"}, HTTP_IDEMPOTENCY_KEY="b")
    assert response.status_code == 400
    assert response.json()["field"] == "idempotency_key"
    assert not Event.objects.filter(type="store.visited").exists()


@pytest.mark.django_db
def test_event_post_sales_token_for_another_reps_customer_is_404(client, manager, users):
    customer = CustomerFactory(owner=users[Role.MARKETING], phone="13912345678")
    sales_auth = _auth(manager, user=users[Role.SALES])
    for body in ({"customer": customer.public_id, "type": "store.visited"},
                 {"phone": "13912345678", "type": "store.visited"}):
        assert _post(client, sales_auth, body).status_code == 404
    # while an unassigned customer is fine
    mine = CustomerFactory()
    assert _post(client, sales_auth, {"customer": mine.public_id, "type": "store.visited"}).status_code == 201
    assert list(Event.objects.filter(type="store.visited").values_list("customer", flat=True)) == [mine.pk]


@pytest.mark.django_db
def test_event_post_without_scope_or_capability_is_403(client, manager, users):
    customer = CustomerFactory()
    body = {"customer": customer.public_id, "type": "store.visited"}
    response = _post(client, _auth(manager, scopes=["customers:read", "customers:write"]), body)
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    response = _post(client, _auth(manager, user=users[Role.READONLY]), body)
    assert response.status_code == 403
    assert not Event.objects.filter(type="store.visited").exists()


@pytest.mark.django_db
def test_event_post_several_customers_with_one_phone_is_409(client, manager):
    CustomerFactory(phone="13912345678")
    CustomerFactory(phone="139-1234-5678")
    response = _post(client, _auth(manager), {"phone": "13912345678", "type": "store.visited"})
    assert response.status_code == 409
    assert response.json()["code"] == "ambiguous_customer"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_event_post_same_key_twenty_times_at_once_gives_one_event():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    # given
    manager = UserFactory(username="mgr", role=Role.MANAGER)
    customer = CustomerFactory()
    auth = _auth(manager)
    body = {"customer": customer.public_id, "type": "order.paid", "payload": {"amount": "5.00"},
            "idempotency_key": "race-1"}
    barrier = threading.Barrier(20)
    results: list[tuple[int, str]] = []

    def send():
        try:
            barrier.wait()
            response = _post(Client(), auth, body)
            results.append((response.status_code, response.json().get("public_id", "")))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert sorted(status for status, _ in results) == [200] * 19 + [201]
    assert len({public_id for _, public_id in results}) == 1
    assert Event.objects.filter(idempotency_key="race-1").count() == 1

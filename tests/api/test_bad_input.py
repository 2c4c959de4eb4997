"""Input that no column or Python type can hold is refused at the API's boundary with a 4xx naming the field.

Each case answered 500 before (found by schemathesis): NUL in text (PostgreSQL refuses it in text and jsonb),
integers beyond bigint, time-zone offsets beyond ±14:00, `1e999999` as an amount, a non-ASCII digit in an integer
path parameter.
"""

import json
from urllib.parse import quote

import pytest

from fidelis.accounts.services import api_token_create
from fidelis.customers.models import Customer
from fidelis.events.models import Event
from fidelis.pipeline.selectors import pipeline_default
from fidelis.sales.models import Product
from fidelis.work.models import Task
from tests.api.test_auth import ALL_SCOPES
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(manager):
    _token, raw = api_token_create(actor=manager, user=manager, name="pos", scopes=ALL_SCOPES)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client, auth, path, body, method="post"):
    data = body if isinstance(body, str) else json.dumps(body)
    return getattr(client, method)(path, data=data, content_type="application/json", **auth)


def test_nul_in_body_text_is_refused_naming_the_field_and_nothing_is_written(client, auth):
    # when
    response = _post(client, auth, "/api/customers", {"name": "王\x00芳", "phone": "13800138000"})
    # then
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"], body["errors"][0]["type"]) == ("invalid", "name", "nul_character")
    assert "NUL" in body["message"] and "name" in body["message"]
    assert not Customer.objects.exists()


def test_nul_deep_in_an_event_payload_names_its_path_and_records_nothing(client, auth):
    # given
    customer = CustomerFactory()
    # when a key and a value deep in the jsonb payload carry NUL
    response = _post(client, auth, "/api/events", {"customer": customer.public_id, "type": "note.added",
                                                    "payload": {"items": [{"text": "a\x00"}]}})
    response_key = _post(client, auth, "/api/events", {"customer": customer.public_id, "type": "note.added",
                                                        "payload": {"k\x00": 1}})
    # then
    assert response.status_code == 422
    assert response.json()["field"] == "payload.items.text"
    assert response_key.status_code == 422
    assert response_key.json()["field"] == "payload"
    assert not Event.objects.exists()


def test_nul_in_a_query_string_is_refused_naming_the_parameter(client, auth):
    response = client.get("/api/customers?q=%00", **auth)
    assert response.status_code == 422
    assert response.json()["field"] == "q"


def test_nul_in_a_path_is_not_found(client, auth):
    # given a customer, so that the list is not empty
    CustomerFactory()
    # then
    for path in ("/api/customers/%00", "/api/sales/orders/A%00B", "/api/work/tasks/%00"):
        response = client.get(path, **auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_integer_beyond_bigint_is_refused_naming_the_parameter(client, auth):
    for path in ("/api/sales/orders?offset=99999999999999999999", "/api/customers?offset=99999999999999999999",
                 "/api/sales/products?limit=-99999999999999999999"):
        response = client.get(path, **auth)
        assert response.status_code == 422, path
        assert response.json()["field"] in ("offset", "limit")


def test_negative_offset_of_a_listing_is_refused(client, auth):
    response = client.get("/api/sales/opportunities?offset=-2147483647", **auth)
    assert response.status_code == 422
    assert response.json()["field"] == "offset"


def test_points_beyond_bigint_are_refused(client, auth):
    response = _post(client, auth, "/api/loyalty/members/M1/adjust", {"points": 2**63, "reason": "补偿"})
    assert response.status_code == 422
    assert response.json()["field"] == "points"


def test_time_zone_offset_beyond_14_hours_is_refused_and_no_task_is_written(client, auth):
    for due_at in ("2026-12-08T10:00:00+21:17", "2026-12-08T10:00:00-15:00"):
        response = _post(client, auth, "/api/work/tasks", {"title": "回访", "due_at": due_at})
        assert response.status_code == 422, due_at
        assert response.json()["field"] == "due_at"
        assert response.json()["errors"][0]["type"] == "timezone_offset"
    assert not Task.objects.exists()


def test_datetime_that_cannot_be_moved_to_utc_is_refused(client, auth):
    for due_at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00"):
        response = _post(client, auth, "/api/work/tasks", {"title": "回访", "due_at": due_at})
        assert response.status_code == 422, due_at
        assert response.json()["field"] == "due_at"
    assert not Task.objects.exists()


def test_date_at_the_end_of_the_calendar_is_refused(client, auth):
    response = client.get("/api/sales/orders?date_to=9999-12-31", **auth)
    assert response.status_code == 422
    assert response.json()["field"] == "date_to"


def test_huge_amount_is_refused_as_text_and_as_a_json_number(client, auth):
    product = {"sku": "X-1", "name": "拿铁", "category": "咖啡"}
    as_text = _post(client, auth, "/api/sales/products", {**product, "list_price": "1e999999"})
    # 1e999999 as a JSON number reads as a float infinity
    as_number = _post(client, auth, "/api/sales/products", json.dumps(product)[:-1] + ', "list_price": 1e999999}')
    pos = _post(client, auth, "/api/loyalty/orders", {"member": "M1", "order_no": "T-1", "amount": "1e999999"})
    for response in (as_text, as_number):
        assert response.status_code == 422
        assert response.json()["field"] == "list_price"
    assert pos.status_code == 422
    assert pos.json()["field"] == "amount"
    assert not Product.objects.exists()


def test_non_ascii_or_oversized_digits_in_an_integer_path_are_not_found(client, auth):
    # given the default pipeline, whose id is a small integer
    pipeline = pipeline_default()
    # then digits that int() reads differently or a database cannot hold name no pipeline
    for raw in ("١", "²", "٣٤", "99999999999999999999", f"{pipeline.pk}x"):
        response = _post(client, auth, f"/api/sales/pipelines/{quote(raw)}", {"name": "改名"}, method="patch")
        assert response.status_code == 404, raw
        response = client.delete(f"/api/sales/stages/{quote(raw)}", **auth)
        assert response.status_code == 404, raw
    pipeline.refresh_from_db()
    assert pipeline.name != "改名"


def test_body_that_is_not_json_is_refused_in_the_callers_language(client, auth):
    response = client.post("/api/customers", data=b'{"name": ', content_type="application/json", **auth)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_json", "message": "请求正文不是有效的 JSON。"}
    response = client.post("/api/customers", data=b'{"name": ', content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert response.json()["message"] == "The request body is not valid JSON."

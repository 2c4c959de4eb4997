"""The OpenAPI document describes what the server does: one component per schema class, every error answer."""

import importlib
from collections import defaultdict

import pytest
from ninja import Schema

APP_SCHEMA_MODULES = ["fidelis.config.api", "fidelis.customers.schemas", "fidelis.events.schemas",
                      "fidelis.loyalty.schemas", "fidelis.sales.schemas", "fidelis.pipeline.schemas",
                      "fidelis.work.schemas", "fidelis.customers.api", "fidelis.events.api", "fidelis.loyalty.api",
                      "fidelis.sales.api", "fidelis.pipeline.api", "fidelis.work.api"]


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def _schema_classes() -> list[type]:
    for module in APP_SCHEMA_MODULES:
        importlib.import_module(module)
    found, todo = [], [Schema]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("fidelis."):
                found.append(sub)
    return found


def test_component_names_are_unique_per_schema_class(document):
    # given every schema class of the apps, by the name its OpenAPI component would have
    by_name = defaultdict(set)
    for cls in _schema_classes():
        by_name[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    # then no component of the document stands for two classes (the later one would replace the earlier)
    shared = {name: sorted(classes) for name, classes in by_name.items()
              if len(classes) > 1 and name in document["components"]["schemas"]}
    assert shared == {}


def test_pos_orders_and_sales_orders_are_documented_with_their_own_bodies(document):
    def body(path: str) -> dict:
        ref = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return document["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert body("/api/loyalty/orders")["title"] == "PosOrderIn"
    assert {"member", "card", "order_no", "amount"} <= set(body("/api/loyalty/orders")["properties"])
    assert body("/api/sales/orders")["title"] == "OrderIn"
    assert "lines" in body("/api/sales/orders")["properties"]


def test_every_operation_documents_its_error_answers_with_the_error_body(document):
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    assert {"code", "message", "field"} <= set(document["components"]["schemas"]["ErrorOut"]["properties"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = ("401",) if path == "/api/me" else ("400", "401", "403", "404", "409", "422")
            for status in statuses:
                response = operation["responses"].get(status)
                assert response is not None, (method, path, status)
                assert response["content"] == error or status == "409", (method, path, status)


def test_a_declared_error_answer_keeps_its_own_body(document):
    # POST /api/customers declares what its 409 (a duplicate customer) answers; the shared error body does not
    # replace it
    responses = document["paths"]["/api/customers"]["post"]["responses"]
    ref = responses["409"]["content"]["application/json"]["schema"]["$ref"]
    assert ref != "#/components/schemas/ErrorOut"


def test_integer_and_amount_bounds_are_documented(document):
    schemas = document["components"]["schemas"]
    offset = schemas["OrderQuery"]["properties"]["offset"]
    assert (offset["minimum"], offset["maximum"]) == (0, 2**31 - 1)
    points = schemas["AdjustIn"]["properties"]["points"]
    assert (points["minimum"], points["maximum"]) == (-(2**63), 2**63 - 1)
    price = next(p for p in schemas["ProductIn"]["properties"]["list_price"]["anyOf"] if p["type"] == "number")
    assert price["maximum"] == 9999999999.99

"""The pipeline over HTTP: opportunities (list, create, read, change, move) and contracts, with ownership and bad
input answered by a clear JSON error that names the field."""

import json
from decimal import Decimal

import pytest

from fidelis.accounts.services import api_token_create
from fidelis.pipeline.models import Contract, Opportunity
from fidelis.sales.models import Order
from tests.pipeline.fixtures import (  # noqa: F401
    rep2_customer_fixture,
    rep2_fixture,
    rep_customer_fixture,
    stages_fixture,
)

pytestmark = pytest.mark.django_db


def _auth(manager, user):
    _token, raw = api_token_create(actor=manager, user=user, name="CRM", scopes=["sales:read", "sales:write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _call(client, auth, method, path, body=None):
    return client.generic(method, f"/api/sales{path}", data=json.dumps(body) if body is not None else "",
                          content_type="application/json", **auth)


@pytest.fixture
def rep_auth(manager, sales):
    return _auth(manager, sales)


def test_create_read_move_and_win_an_opportunity_with_an_order(client, rep_auth, rep_customer, catalogue):
    # when
    response = _call(client, rep_auth, "POST", "/opportunities", {
        "customer": rep_customer.public_id, "title": "企业年会礼品", "source": "event", "expected_amount": "2598"})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stage"], body["probability"], body["owner"]) == ("初步接触", 10, "sales")
    public_id = body["id"]
    # a move missing a required field names it
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move", {"stage": "方案报价"})
    assert response.status_code == 400 and response.json()["field"] == "expected_close_date"
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move",
                     {"stage": "方案报价", "expected_close_date": "2026-02-30"})
    assert response.status_code == 400 and response.json()["field"] == "expected_close_date"
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move",
                     {"stage": "方案报价", "expected_close_date": "2026-07-31"})
    assert response.status_code == 200 and response.json()["stage"] == "方案报价"
    # won with an order
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move", {
        "stage": "赢单", "order": {"lines": [{"sku": "WF-101", "quantity": 2}], "store": "2F-01",
                                  "payment_method": "alipay"}})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "won" and response.json()["order"] == Order.objects.get().order_no
    assert _call(client, rep_auth, "GET", f"/opportunities/{public_id}").json()["status"] == "won"
    assert [o["id"] for o in _call(client, rep_auth, "GET", "/opportunities").json()] == [public_id]


@pytest.mark.parametrize("bad", ["2026-02-30", "31/12/2026"])
def test_create_with_an_impossible_close_date_is_a_400_naming_the_field(client, rep_auth, rep_customer, bad):
    response = _call(client, rep_auth, "POST", "/opportunities", {
        "customer": rep_customer.public_id, "title": "x", "expected_close_date": bad})
    assert response.status_code == 400 and response.json()["field"] == "expected_close_date"
    assert not Opportunity.objects.exists()


def test_lost_needs_a_reason(client, rep_auth, rep_customer):
    public_id = _call(client, rep_auth, "POST", "/opportunities",
                      {"customer": rep_customer.public_id, "title": "x"}).json()["id"]
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move", {"stage": "输单"})
    assert response.status_code == 400 and response.json()["field"] == "lost_reason"
    response = _call(client, rep_auth, "POST", f"/opportunities/{public_id}/move",
                     {"stage": "输单", "lost_reason": "no_budget", "lost_note": "预算冻结"})
    assert response.json()["lost_reason"] == "no_budget"


def test_rep_gets_404_on_another_reps_opportunity_and_manager_reassigns(client, manager, rep_auth, rep2,
                                                                        rep2_customer, rep_customer):
    other = _call(client, _auth(manager, rep2), "POST", "/opportunities",
                  {"customer": rep2_customer.public_id, "title": "x"}).json()["id"]
    assert _call(client, rep_auth, "GET", f"/opportunities/{other}").status_code == 404
    assert _call(client, rep_auth, "PATCH", f"/opportunities/{other}", {"title": "y"}).status_code == 404
    mine = _call(client, rep_auth, "POST", "/opportunities", {"customer": rep_customer.public_id, "title": "x"})
    assert _call(client, rep_auth, "PATCH", f"/opportunities/{mine.json()['id']}",
                 {"owner": "sales2"}).status_code == 403
    rep_customer.owner = rep2
    rep_customer.save(update_fields=["owner"])
    response = _call(client, _auth(manager, manager), "PATCH", f"/opportunities/{mine.json()['id']}",
                     {"owner": "sales2"})
    assert response.status_code == 200 and response.json()["owner"] == "sales2"


def test_contracts_create_read_and_refuse_bad_input(client, rep_auth, rep_customer):
    body = {"customer": rep_customer.public_id, "number": "HT-API-1", "amount": "12000", "start_date": "2026-01-01",
            "end_date": "2026-12-31"}
    response = _call(client, rep_auth, "POST", "/contracts", body)
    assert response.status_code == 201 and response.json()["amount"] == "12000.00"
    assert _call(client, rep_auth, "GET", f"/contracts/{response.json()['id']}").json()["number"] == "HT-API-1"
    for change, field in (({}, "number"), ({"number": "HT-2", "end_date": "31/12/2026"}, "end_date"),
                          ({"number": "HT-2", "amount": "-1"}, "amount"),
                          ({"number": "HT-2", "end_date": "2025-01-01"}, "end_date")):
        response = _call(client, rep_auth, "POST", "/contracts", body | change)
        assert response.status_code == 400 and response.json()["field"] == field, (change, response.content)
    assert Contract.objects.count() == 1
    assert [c["number"] for c in _call(client, rep_auth, "GET", "/contracts").json()] == ["HT-API-1"]
    assert Decimal(_call(client, rep_auth, "GET", "/contracts").json()[0]["amount"]) == Decimal("12000")


def test_a_contract_is_renewed_and_terminated_through_the_api(client, rep_auth, manager, rep2, rep_customer,
                                                              rep2_customer):
    from fidelis.events.models import Event

    body = {"customer": rep_customer.public_id, "number": "HT-R1", "amount": "12000", "start_date": "2026-01-01",
            "end_date": "2026-12-31"}
    old = _call(client, rep_auth, "POST", "/contracts", body).json()["id"]
    # when: renewed with the defaults
    response = _call(client, rep_auth, "POST", f"/contracts/{old}/renew", {"number": "HT-R2"})
    # then: same amount and length, from the day after, linked; the old one is renewed
    assert response.status_code == 201, response.content
    new = response.json()
    assert (new["number"], new["amount"], new["start_date"], new["end_date"], new["renewal_of"]) == (
        "HT-R2", "12000.00", "2027-01-01", "2027-12-31", "HT-R1")
    assert _call(client, rep_auth, "GET", f"/contracts/{old}").json()["status"] == "renewed"
    # bad input: a renewed contract again, a used number, an unknown field; nothing written
    again = _call(client, rep_auth, "POST", f"/contracts/{old}/renew", {"number": "HT-R3"})
    assert again.status_code == 400 and again.json()["field"] == "status"
    used = _call(client, rep_auth, "POST", f"/contracts/{new['id']}/renew", {"number": "HT-R1"})
    assert used.status_code == 400 and used.json()["field"] == "number"
    assert _call(client, rep_auth, "POST", f"/contracts/{new['id']}/renew", {"number": "HT-R4", "x": 1}
                 ).status_code in (400, 422)
    assert Contract.objects.count() == 2
    # when: the new one ends early — a reason is required
    assert _call(client, rep_auth, "POST", f"/contracts/{new['id']}/terminate", {"reason": ""}).status_code in (400, 422)
    response = _call(client, rep_auth, "POST", f"/contracts/{new['id']}/terminate", {"reason": "客户搬迁"})
    # then
    assert response.status_code == 200 and response.json()["status"] == "terminated"
    assert Event.objects.filter(customer=rep_customer, type="contract.terminated").count() == 1
    closed = _call(client, rep_auth, "POST", f"/contracts/{new['id']}/terminate", {"reason": "再次"})
    assert closed.status_code == 400 and closed.json()["field"] == "status"
    # another rep's contract: 404, never the contract
    other = _call(client, _auth(manager, manager), "POST", "/contracts", body | {
        "customer": rep2_customer.public_id, "number": "HT-O1", "owner": "sales2"}).json()["id"]
    for path, payload in ((f"/contracts/{other}/renew", {"number": "HT-O2"}),
                          (f"/contracts/{other}/terminate", {"reason": "不是我的"})):
        response = _call(client, rep_auth, "POST", path, payload)
        assert response.status_code == 404 and "HT-O1" not in response.content.decode()
    assert Contract.objects.get(public_id=other).status == "active"

"""The touchpoints API: list with filters, create, change and deactivate; refusals name the field; scopes."""

import json

import pytest

from fidelis.accounts.models import AuditEntry
from fidelis.accounts.services import api_token_create
from fidelis.feedback.models import Touchpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, manager):
    """Call the API as a user with a token of the given scopes."""

    def _call(user, method, path, body=None, scopes=("feedback:read", "feedback:write"), **headers):
        _token, raw = api_token_create(actor=manager, user=user, name="test", scopes=list(scopes))
        response = client.generic(method, "/api/feedback" + path, data=json.dumps(body) if body is not None else "",
                                  content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}", **headers)
        return response.status_code, response.json()

    return _call


def test_get_touchpoints_lists_them_in_journey_order_and_filters(api, readonly, make_touchpoint):
    make_touchpoint("客服热线", stage="service", channel="phone", owner_team="客服中心")
    make_touchpoint("商场入口", stage="awareness")
    make_touchpoint("旧停车场", stage="awareness", is_active=False)
    status, body = api(readonly, "GET", "/touchpoints", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert status == 200
    assert [t["name"] for t in body] == ["商场入口", "旧停车场", "客服热线"]
    assert body[2] | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None, "name": "客服热线", "stage": "service", "stage_label": "售后服务", "channel": "phone",
        "owner_team": "客服中心", "description": "", "position": 1, "is_active": True, "created_at": None,
        "updated_at": None}
    assert [t["name"] for t in api(readonly, "GET", "/touchpoints?stage=awareness&active=true")[1]] == ["商场入口"]
    assert [t["name"] for t in api(readonly, "GET", "/touchpoints?active=false")[1]] == ["旧停车场"]
    status, body = api(readonly, "GET", "/touchpoints?stage=checkout", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert (status, body["code"], body["field"]) == (400, "invalid_stage", "stage") and "checkout" in body["message"]


def test_post_touchpoint_creates_it_audited_as_coming_from_the_api(api, marketing):
    status, body = api(marketing, "POST", "/touchpoints", {"name": "小程序/APP", "stage": "consideration",
                                                           "channel": "online", "owner_team": "数字化运营组"})
    assert status == 201 and body["is_active"] is True and body["position"] == 1
    touchpoint = Touchpoint.objects.get(public_id=body["id"])
    assert touchpoint.created_by == marketing
    assert AuditEntry.objects.get(action="touchpoint.create").via == "api"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"name": "收银台", "stage": "checkout", "owner_team": "收银组"}, 400, "stage"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "channel": "pigeon"}, 400, "channel"),
    ({"name": "收银台", "stage": "purchase", "owner_team": " "}, 400, "owner_team"),
    ({"name": "收银台", "stage": "purchase"}, 422, "owner_team"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "colour": "red"}, 422, "colour"),
    ({"name": "收" * 81, "stage": "purchase", "owner_team": "收银组"}, 422, "name"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "position": "first"}, 422, "position"),
])
def test_post_touchpoint_refuses_bad_input_naming_the_field(api, marketing, body, status, field):
    got, answer = api(marketing, "POST", "/touchpoints", body, HTTP_ACCEPT_LANGUAGE="en")
    assert (got, answer["field"]) == (status, field), answer
    assert answer["message"] and not Touchpoint.objects.exists()


def test_post_a_duplicate_name_answers_409_naming_the_field(api, marketing, make_touchpoint):
    make_touchpoint("收银台")
    status, body = api(marketing, "POST", "/touchpoints", {"name": "收银台", "stage": "purchase",
                                                           "owner_team": "收银组"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert (status, body["code"], body["field"]) == (409, "duplicate_name", "name")
    assert "收银台" in body["message"] and Touchpoint.objects.count() == 1


def test_patch_changes_only_the_fields_sent_and_deactivates(api, marketing, make_touchpoint):
    touchpoint = make_touchpoint(channel="store", description="结账")
    status, body = api(marketing, "PATCH", f"/touchpoints/{touchpoint.public_id}", {"owner_team": "前台收银组"})
    assert status == 200 and (body["owner_team"], body["channel"], body["description"]) == ("前台收银组", "store",
                                                                                              "结账")
    status, body = api(marketing, "PATCH", f"/touchpoints/{touchpoint.public_id}", {"is_active": False})
    assert status == 200 and body["is_active"] is False
    assert AuditEntry.objects.filter(action="touchpoint.deactivate", via="api").count() == 1
    status, body = api(marketing, "PATCH", f"/touchpoints/{touchpoint.public_id}", {"stage": "nowhere"})
    assert (status, body["field"]) == (400, "stage")
    assert api(marketing, "PATCH", "/touchpoints/" + "0" * 16, {"owner_team": "x"})[0] == 404


def test_the_scopes_and_the_role_are_both_needed(api, marketing, readonly):
    body = {"name": "收银台", "stage": "purchase", "owner_team": "收银组"}
    assert api(marketing, "POST", "/touchpoints", body, scopes=["feedback:read"])[0] == 403
    assert api(marketing, "GET", "/touchpoints", scopes=["work:read"])[0] == 403
    status, answer = api(readonly, "POST", "/touchpoints", body)
    assert (status, answer["code"]) == (403, "forbidden")
    assert not Touchpoint.objects.exists()

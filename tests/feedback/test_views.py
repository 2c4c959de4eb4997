"""The journey view and the touchpoint form for each role: stages in order, form errors, the htmx actions."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import AuditEntry
from fidelis.feedback.models import Touchpoint

pytestmark = pytest.mark.django_db


def _form(**overrides):
    return {"name": "会员服务台", "stage": "purchase", "channel": "store", "owner_team": "会员服务组",
            "description": "办卡、积分查询"} | overrides


def test_the_journey_page_shows_every_stage_in_order_with_its_touchpoints(client_for, readonly, make_touchpoint,
                                                                          django_assert_max_num_queries):
    # given touchpoints entered out of order, one of them inactive
    make_touchpoint("推荐有礼", stage="loyalty", channel="wechat", owner_team="市场部")
    make_touchpoint("商场入口", stage="awareness", channel="store", owner_team="营运部")
    old = make_touchpoint("旧热线", stage="service", owner_team="客服中心", is_active=False)
    client = client_for(readonly)
    # when
    with django_assert_max_num_queries(8):
        response = client.get(reverse("feedback:touchpoints"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    # then
    assert response.status_code == 200
    body = response.content.decode()
    stages = ["awareness", "consideration", "purchase", "use", "service", "loyalty"]
    positions = [body.index(f'id="stage-{s}"') for s in stages]
    assert positions == sorted(positions)
    for label in ("了解", "考虑", "购买", "使用", "售后服务", "忠诚与推荐"):
        assert label in body
    assert body.index("商场入口") < body.index('id="stage-consideration"') < body.index("推荐有礼")
    assert f'class="touchpoint inactive" id="touchpoint-{old.public_id}"' in body
    assert "营运部" in body and "微信" in body
    # a read-only user sees no way to change it
    assert reverse("feedback:touchpoint_create") not in body and "touchpoint-deactivate" not in body


def test_the_navigation_has_the_touchpoints_entry_for_every_role(client_for, users):
    for user in users.values():
        items = client_for(user).get(reverse("feedback:touchpoints")).context["nav_items"]
        assert [i["name"] for i in items if i["active"]] == ["feedback:touchpoints"]


def test_marketing_adds_a_touchpoint_from_a_stage_and_sees_it_there(client_for, marketing):
    client = client_for(marketing)
    page = client.get(reverse("feedback:touchpoint_create") + "?stage=service")
    assert '<option value="service" selected>' in page.content.decode()
    response = client.post(reverse("feedback:touchpoint_create"), _form(stage="service", name="客服热线"))
    assert response.status_code == 302 and response["Location"].endswith("#stage-service")
    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.name, touchpoint.stage, touchpoint.created_by) == ("客服热线", "service", marketing)
    body = client.get(reverse("feedback:touchpoints")).content.decode()
    assert f'id="touchpoint-{touchpoint.public_id}"' in body
    assert AuditEntry.objects.filter(action="touchpoint.create", via="web").count() == 1


def test_the_form_shows_the_services_refusal_on_the_field_and_writes_nothing(client_for, marketing,
                                                                             make_touchpoint):
    make_touchpoint("会员服务台")
    client = client_for(marketing)
    response = client.post(reverse("feedback:touchpoint_create"), _form(), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error-name"' in body and "已有名为“会员服务台”的启用中接触点" in body
    response = client.post(reverse("feedback:touchpoint_create"), _form(name="", stage="nowhere"))
    assert response.status_code == 200 and 'id="error-name"' in response.content.decode()
    assert 'id="error-stage"' in response.content.decode()
    assert Touchpoint.objects.count() == 1


def test_the_edit_form_changes_the_touchpoint(client_for, manager, make_touchpoint):
    touchpoint = make_touchpoint()
    client = client_for(manager)
    page = client.get(reverse("feedback:touchpoint_edit", args=[touchpoint.public_id]))
    assert 'value="收银台"' in page.content.decode()
    response = client.post(reverse("feedback:touchpoint_edit", args=[touchpoint.public_id]),
                           _form(name="收银台", owner_team="前台收银组"))
    assert response.status_code == 302
    touchpoint.refresh_from_db()
    assert (touchpoint.owner_team, touchpoint.channel) == ("前台收银组", "store")


def test_deactivate_and_reactivate_answer_htmx_with_the_journey(client_for, marketing, make_touchpoint):
    touchpoint = make_touchpoint()
    client = client_for(marketing)
    response = client.post(reverse("feedback:touchpoint_deactivate", args=[touchpoint.public_id]),
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<div id="journey">') and "touchpoint inactive" in body and "touchpoint-reactivate" in body
    touchpoint.refresh_from_db()
    assert not touchpoint.is_active
    response = client.post(reverse("feedback:touchpoint_reactivate", args=[touchpoint.public_id]))
    assert response.status_code == 302
    touchpoint.refresh_from_db()
    assert touchpoint.is_active


def test_a_refused_reactivation_shows_the_reason_in_the_journey(client_for, marketing, make_touchpoint):
    old = make_touchpoint()
    client = client_for(marketing)
    client.post(reverse("feedback:touchpoint_deactivate", args=[old.public_id]))
    make_touchpoint()
    response = client.post(reverse("feedback:touchpoint_reactivate", args=[old.public_id]), HTTP_HX_REQUEST="true",
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and 'id="journey-error"' in response.content.decode()
    old.refresh_from_db()
    assert not old.is_active


def test_move_up_changes_the_order_within_the_stage(client_for, marketing, make_touchpoint):
    make_touchpoint("导购咨询")
    second = make_touchpoint("收银台")
    response = client_for(marketing).post(reverse("feedback:touchpoint_move", args=[second.public_id]),
                                          {"direction": "up"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.index("收银台") < body.index("导购咨询")
    assert [t.name for t in Touchpoint.objects.all()] == ["收银台", "导购咨询"]


def test_a_read_only_user_sees_the_journey_but_may_not_change_it(client_for, readonly, make_touchpoint):
    touchpoint = make_touchpoint()
    client = client_for(readonly)
    assert client.get(reverse("feedback:touchpoints")).status_code == 200
    assert client.get(reverse("feedback:touchpoint_create")).status_code == 403
    assert client.post(reverse("feedback:touchpoint_create"), _form(name="导购咨询")).status_code == 403
    assert client.post(reverse("feedback:touchpoint_deactivate", args=[touchpoint.public_id])).status_code == 403
    touchpoint.refresh_from_db()
    assert touchpoint.is_active and Touchpoint.objects.count() == 1


def test_an_unknown_touchpoint_answers_404(client_for, marketing):
    assert client_for(marketing).get(reverse("feedback:touchpoint_edit", args=["0" * 16])).status_code == 404

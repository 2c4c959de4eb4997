"""The touchpoint catalogue's services: create, change, refusals, deactivate / reactivate, moves, audit rows."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from fidelis.accounts.models import AuditEntry
from fidelis.core.errors import Conflict, DomainError, PermissionDenied
from fidelis.feedback.models import JourneyStage, Touchpoint
from fidelis.feedback.selectors import touchpoints_by_stage
from fidelis.feedback.services import (
    touchpoint_deactivate,
    touchpoint_move,
    touchpoint_reactivate,
    touchpoint_save,
)

pytestmark = pytest.mark.django_db


def test_touchpoint_save_creates_one_at_the_end_of_its_stage_with_an_audit_row(marketing, make_touchpoint):
    # given a stage with one touchpoint
    make_touchpoint("会员服务台")
    # when
    touchpoint = touchpoint_save(actor=marketing, data={"name": " 收银台 ", "stage": "purchase", "channel": "store",
                                                        "owner_team": "收银组", "description": "结账与开票"})
    # then
    touchpoint.refresh_from_db()
    assert (touchpoint.name, touchpoint.stage, touchpoint.channel, touchpoint.owner_team) == (
        "收银台", JourneyStage.PURCHASE, "store", "收银组")
    assert touchpoint.position == 2 and touchpoint.is_active and touchpoint.created_by == marketing
    entry = AuditEntry.objects.get(action="touchpoint.create", object_id=touchpoint.public_id)
    assert entry.actor == marketing and entry.changes["name"] == [None, "收银台"]
    assert entry.changes["stage"] == [None, "purchase"]


def test_touchpoint_save_changes_only_what_is_sent_and_audits_old_and_new(marketing, make_touchpoint):
    touchpoint = make_touchpoint()
    touchpoint_save(actor=marketing, touchpoint=touchpoint, data={"owner_team": "前台收银组"})
    touchpoint.refresh_from_db()
    assert (touchpoint.owner_team, touchpoint.name) == ("前台收银组", "收银台")
    entry = AuditEntry.objects.get(action="touchpoint.update")
    assert entry.changes == {"owner_team": ["收银组", "前台收银组"]}
    # the same values again change nothing and write no row
    touchpoint_save(actor=marketing, touchpoint=touchpoint, data={"owner_team": "前台收银组"})
    assert AuditEntry.objects.filter(action="touchpoint.update").count() == 1


def test_touchpoint_save_to_another_stage_puts_it_at_the_end_of_that_stage(marketing, make_touchpoint):
    make_touchpoint("客服热线", stage="service")
    touchpoint = make_touchpoint("退换货")
    touchpoint_save(actor=marketing, touchpoint=touchpoint, data={"stage": "service"})
    touchpoint.refresh_from_db()
    assert (touchpoint.stage, touchpoint.position) == ("service", 2)


def test_touchpoint_save_with_a_name_already_active_is_refused_naming_the_field_and_writes_nothing(
        marketing, make_touchpoint):
    make_touchpoint("小程序/APP", stage="consideration")
    # when: the same name, in other letters' case, in Chinese
    with translation.override("zh-hans"), pytest.raises(Conflict) as refused:
        touchpoint_save(actor=marketing, data={"name": "小程序/app", "stage": "use", "owner_team": "数字化运营组"})
    # then
    assert refused.value.field == "name" and refused.value.code == "duplicate_name"
    assert "小程序/app" in str(refused.value.message) and "已" in str(refused.value.message)
    assert Touchpoint.objects.count() == 1
    assert AuditEntry.objects.filter(action="touchpoint.create").count() == 1


def test_an_inactive_touchpoint_frees_its_name_and_cannot_come_back_while_another_has_it(marketing, make_touchpoint):
    old = make_touchpoint("收银台")
    touchpoint_deactivate(actor=marketing, touchpoint=old)
    new = make_touchpoint("收银台")
    assert new.is_active
    with pytest.raises(Conflict) as refused:
        touchpoint_reactivate(actor=marketing, touchpoint=old)
    assert refused.value.field == "name"
    old.refresh_from_db()
    assert not old.is_active


def test_the_database_refuses_two_active_touchpoints_of_one_name(make_touchpoint):
    make_touchpoint("停车场", stage="awareness")
    with pytest.raises(IntegrityError), transaction.atomic():
        Touchpoint.objects.create(name="停车场", stage="awareness", owner_team="物业")


@pytest.mark.parametrize(("data", "field", "code"), [
    ({"name": "", "stage": "purchase", "owner_team": "收银组"}, "name", "required"),
    ({"name": "收银台", "stage": "checkout", "owner_team": "收银组"}, "stage", "invalid_stage"),
    ({"name": "收银台", "stage": "", "owner_team": "收银组"}, "stage", "invalid_stage"),
    ({"name": "收银台", "stage": "purchase", "owner_team": ""}, "owner_team", "required"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "channel": "pigeon"}, "channel",
     "invalid_channel"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "position": "first"}, "position",
     "not_a_number"),
    ({"name": "收" * 81, "stage": "purchase", "owner_team": "收银组"}, "name", "max_length"),
    ({"name": "收银台", "stage": "purchase", "owner_team": "收银组", "colour": "red"}, "colour", "unknown_field"),
])
def test_touchpoint_save_refuses_bad_input_naming_the_field_and_writes_nothing(marketing, data, field, code):
    with translation.override("en"), pytest.raises(DomainError) as refused:
        touchpoint_save(actor=marketing, data=data)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert str(refused.value.message)
    assert not Touchpoint.objects.exists() and not AuditEntry.objects.filter(action__startswith="touchpoint").exists()


def test_an_unknown_stage_is_refused_in_the_users_language(marketing):
    with translation.override("zh-hans"), pytest.raises(DomainError) as refused:
        touchpoint_save(actor=marketing, data={"name": "收银台", "stage": "checkout", "owner_team": "收银组"})
    assert "checkout" in str(refused.value.message) and "旅程阶段" in str(refused.value.message)


def test_a_read_only_or_sales_user_may_not_change_the_catalogue(users, make_touchpoint):
    touchpoint = make_touchpoint()
    for role in ("readonly", "sales", "service"):
        with pytest.raises(PermissionDenied):
            touchpoint_save(actor=users[role], data={"name": "导购咨询", "stage": "consideration",
                                                     "owner_team": "导购"})
        with pytest.raises(PermissionDenied):
            touchpoint_deactivate(actor=users[role], touchpoint=touchpoint)
    assert Touchpoint.objects.count() == 1


def test_deactivate_and_reactivate_keep_the_touchpoint_and_audit_each(manager, make_touchpoint):
    touchpoint = make_touchpoint()
    touchpoint_deactivate(actor=manager, touchpoint=touchpoint)
    touchpoint.refresh_from_db()
    assert not touchpoint.is_active and Touchpoint.objects.count() == 1
    touchpoint_reactivate(actor=manager, touchpoint=touchpoint)
    touchpoint.refresh_from_db()
    assert touchpoint.is_active
    assert list(AuditEntry.objects.filter(action__in=("touchpoint.deactivate", "touchpoint.reactivate"))
                .order_by("id").values_list("action", "changes")) == [
        ("touchpoint.deactivate", {"is_active": [True, False]}),
        ("touchpoint.reactivate", {"is_active": [False, True]})]


def test_touchpoint_move_swaps_it_with_its_neighbour_and_stops_at_the_ends(marketing, make_touchpoint):
    a, b, c = (make_touchpoint(name) for name in ("导购咨询", "试衣间", "小程序/APP"))

    def order():
        return [t.name for t in Touchpoint.objects.filter(stage="purchase")]

    touchpoint_move(actor=marketing, touchpoint=c, direction="up")
    assert order() == ["导购咨询", "小程序/APP", "试衣间"]
    touchpoint_move(actor=marketing, touchpoint=a, direction="up")  # already first
    touchpoint_move(actor=marketing, touchpoint=b, direction="down")  # already last
    assert order() == ["导购咨询", "小程序/APP", "试衣间"]
    assert AuditEntry.objects.filter(action="touchpoint.move").count() == 1
    with pytest.raises(DomainError) as refused:
        touchpoint_move(actor=marketing, touchpoint=a, direction="sideways")
    assert refused.value.field == "direction"


def test_touchpoints_by_stage_gives_every_stage_in_journey_order_with_its_touchpoints(make_touchpoint,
                                                                                      django_assert_num_queries):
    make_touchpoint("推荐有礼", stage="loyalty")
    make_touchpoint("商场入口", stage="awareness")
    make_touchpoint("客服热线", stage="service")
    with django_assert_num_queries(1):
        groups = touchpoints_by_stage()
    assert [g.stage for g in groups] == ["awareness", "consideration", "purchase", "use", "service", "loyalty"]
    assert [[t.name for t in g.touchpoints] for g in groups] == [["商场入口"], [], [], [], ["客服热线"], ["推荐有礼"]]
    assert [t.name for t in Touchpoint.objects.all()] == ["商场入口", "客服热线", "推荐有礼"]

"""The touchpoint catalogue on a phone: a marketing user adds a touchpoint to a stage and finds it in the journey."""

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.feedback.models import Touchpoint
from fidelis.feedback.services import touchpoint_save
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e


def test_a_marketing_user_adds_a_touchpoint_to_a_stage_on_a_phone(new_page, live_server, staff, log_in, artifacts):
    marketing = staff[Role.MARKETING]
    touchpoint_save(actor=marketing, data={"name": "商场入口", "stage": "awareness", "channel": "store",
                                           "owner_team": "营运部"})
    page = new_page(viewport=PHONE)
    log_in(page, "marketing")
    page.goto(f"{live_server.url}/feedback/touchpoints/")
    # The stages are stacked one under the other on a phone, in the order of the journey.
    awareness, service = page.locator("#stage-awareness"), page.locator("#stage-service")
    expect(awareness).to_contain_text("商场入口")
    first, later = awareness.bounding_box(), service.bounding_box()
    assert later["y"] > first["y"] + first["height"] - 1 and abs(later["x"] - first["x"]) < 2
    assert first["width"] <= PHONE["width"]
    # "Add a touchpoint" under 售后服务 opens the form with that stage chosen.
    service.locator(".stage-add").click()
    expect(page.locator("#id_stage")).to_have_value("service")
    page.fill("#id_name", "客服热线")
    page.select_option("#id_channel", "phone")
    page.fill("#id_owner_team", "客服中心")
    page.fill("#id_description", "400 热线：咨询、投诉与回访")
    with page.expect_navigation():
        page.click("#touchpoint-save")
    # Back in the journey, the new touchpoint is in its stage with its channel and team.
    assert "/feedback/touchpoints/" in page.url
    card = page.locator("#stage-service .touchpoint", has_text="客服热线")
    expect(card).to_be_visible()
    expect(card.locator(".touchpoint-team")).to_have_text("客服中心")
    expect(card.locator(".touchpoint-channel")).to_have_text("电话")
    touchpoint = Touchpoint.objects.get(name="客服热线")
    assert (touchpoint.stage, touchpoint.created_by) == ("service", marketing)
    # Deactivated, it stays in its stage, greyed out, without a page load.
    card.locator(".touchpoint-deactivate").click()
    expect(page.locator(f"#touchpoint-{touchpoint.public_id}")).to_have_class("touchpoint inactive")
    page.screenshot(path=str(artifacts / "feedback-touchpoints-phone.png"), full_page=True)
    touchpoint.refresh_from_db()
    assert not touchpoint.is_active

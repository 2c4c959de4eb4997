"""Log an interaction from the 360° page in a browser, on a phone: one tap opens the form, the timeline shows it."""

import pytest
from playwright.sync_api import expect

from fidelis.work.models import Task
from tests.e2e.conftest import PHONE
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e


def test_service_logs_a_call_with_a_follow_up_from_a_phone(new_page, live_server, staff, log_in, artifacts):
    customer = CustomerFactory(name="王芳")
    page = new_page(viewport=PHONE)
    log_in(page, "service")
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    page.click("#interaction-open")
    form = page.locator("#interaction-form")
    expect(form).to_be_visible()
    # saved without a word or an outcome: refused on the field, nothing written
    page.click("#interaction-save")
    expect(page.locator("#error-text")).to_be_visible()
    page.select_option("#id_type", "call.logged")
    page.select_option("#id_outcome", "follow_up")
    page.fill("#id_text", "询问周末亲子活动，周五再联系")
    page.fill("#id_follow_up_at", "2031-05-09T10:30")
    with page.expect_navigation():
        page.click("#interaction-save")
    item = page.locator("#timeline li.event[data-type='call.logged']")
    expect(item).to_contain_text("询问周末亲子活动")
    expect(item.locator("[data-outcome=follow_up]")).to_have_text("需跟进")
    page.screenshot(path=str(artifacts / "interaction-phone.png"), full_page=True)
    task = Task.objects.get(customer=customer)
    assert task.owner.username == "service" and task.due_at.year == 2031

"""A sales rep's day in a real browser: a task with a reminder from the 360° page, then done from "my day"."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.work.models import Task, TaskStatus

pytestmark = pytest.mark.e2e
TITLE = "美容预约前致电李太太"


def test_a_rep_adds_a_task_from_the_360_page_and_completes_it_on_the_home_page(page, live_server, staff, log_in,
                                                                                artifacts):
    now = timezone.localtime()
    if (now + timedelta(minutes=5)).date() != now.date():
        pytest.skip("too close to midnight for a task due later today")
    rep = staff[Role.SALES]
    customer = customer_create(actor=staff[Role.MANAGER], owner=rep, tags=["宠物品种:布偶猫"],
                               data={"name": "李太太", "phone": "13916880520"})
    log_in(page, "sales")
    # The 360° page loads the tasks panel; "add a task" opens the form with the customer chosen.
    page.goto(f"{live_server.url}/customers/{customer.public_id}/")
    expect(page.locator("#task-panel")).to_be_visible()
    page.click("#task-add")
    expect(page.locator("#id_customer")).to_have_value(customer.public_id)
    page.fill("#id_title", TITLE)
    page.fill("#id_due_date", now.strftime("%Y-%m-%d"))
    page.fill("#id_due_time", "23:59")
    page.select_option("#id_remind_before", "30")
    page.fill("#id_notes", "确认周六上午 10 点美容预约")
    with page.expect_navigation():
        page.click("#task-save")
    # Back on the 360° page, the panel lists the task.
    assert page.url.endswith(f"/customers/{customer.public_id}/")
    expect(page.locator("#task-panel .task-title")).to_have_text(TITLE)
    task = Task.objects.get()
    assert (task.owner, task.customer) == (rep, customer)
    assert task.remind_at == task.due_at - timedelta(minutes=30)
    # The home page shows it under "today"; the rep completes it there and the row changes in place.
    page.goto(f"{live_server.url}/")
    row = page.locator(f"#tasks-today #task-{task.public_id}")
    expect(row).to_contain_text(TITLE)
    expect(row.locator(".task-customer")).to_have_text("李太太")
    page.screenshot(path=str(artifacts / "work-my-day.png"), full_page=True)
    row.locator(".task-complete").click()
    expect(row).to_have_class("task task-done")
    expect(row.locator(".task-reopen")).to_be_visible()
    assert page.url == f"{live_server.url}/"  # no page load: htmx swapped the row
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.done_at is not None
    page.screenshot(path=str(artifacts / "work-my-day-done.png"), full_page=True)

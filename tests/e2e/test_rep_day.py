"""A sales rep's day end to end in a real browser: an opportunity won with an order; the purchase opens the
follow-up task of the mall's 回访 rule, which "my day" shows; at its reminder time the beat task mails the rep
through a real SMTP server, and the mail's link opens the task."""

from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.pipeline.services import opportunity_create
from fidelis.sales.models import Order
from fidelis.sales.services import category_save, product_save, store_save
from fidelis.work.models import Task, TaskSource
from fidelis.work.reminders import reminders_send_due
from fidelis.work.services import follow_up_rule_create

pytestmark = pytest.mark.e2e


def test_won_order_opens_a_follow_up_shown_on_my_day_and_reminded_by_mail(page, live_server, staff, log_in, smtp,
                                                                          artifacts, win_with_order):
    # given: the manager's rule "call the customer the day after a purchase, reminded 30 minutes before", and an
    # opportunity of the rep's customer
    manager, rep = staff[Role.MANAGER], staff[Role.SALES]
    rep.email = "sales@xinghe-mall.cn"
    rep.save(update_fields=["email"])
    follow_up_rule_create(actor=manager, data={"name": "购物次日回访", "delay_days": 1, "remind_before": 30})
    customer = customer_create(actor=manager, owner=rep, data={"name": "周丽", "phone": "13700137000"})
    store_save(actor=manager, data={"code": "2F-08", "name": "护肤美妆"})
    beauty = category_save(actor=manager, data={"name": "护肤"})
    product_save(actor=manager, data={"sku": "SK-050", "name": "精华液礼盒", "category": beauty, "list_price": "980"})
    opportunity = opportunity_create(actor=rep, customer=customer, title="年终护肤礼盒", expected_amount="980",
                                     expected_close_date=timezone.localdate())
    log_in(page, "sales")
    # when: the rep marks the opportunity won and records the order
    win_with_order(page, opportunity, sku="SK-050", store="2F-08", payment="wechat_pay")
    expect(page.locator("#opportunity-stage")).to_have_text("赢单")
    order = Order.objects.get(customer=customer)
    # then: the purchase opened the follow-up task for the customer's owner, due tomorrow
    task = Task.objects.get(source=TaskSource.FOLLOW_UP, customer=customer)
    assert task.owner == rep and order.order_no in task.title
    assert timezone.localtime(task.due_at).date() == timezone.localdate() + timezone.timedelta(days=1)
    # and "my day" lists it under the next 7 days, with its customer
    page.goto(f"{live_server.url}/")
    row = page.locator(f"#tasks-upcoming #task-{task.public_id}")
    expect(row).to_contain_text(task.title)
    expect(row.locator(".task-customer")).to_have_text("周丽")
    page.screenshot(path=str(artifacts / "rep-day-follow-up.png"), full_page=True)
    # when: Celery beat runs the reminders at the reminder's time
    assert reminders_send_due()["sent"] == 0  # not before
    assert reminders_send_due(now=task.remind_at)["sent"] == 1
    # then: the local SMTP server received the reminder, to the rep, naming the task and the customer
    [(recipients, message)] = smtp.messages
    assert recipients == ["sales@xinghe-mall.cn"] and task.title in message["Subject"]
    body = message.get_content()
    assert "周丽" in body
    # and its link opens the task in the browser
    link = next(word for word in body.split() if word.endswith(task.get_absolute_url()))
    page.goto(live_server.url + urlsplit(link).path)
    expect(page.locator("h1")).to_contain_text(task.title)
    page.screenshot(path=str(artifacts / "rep-day-reminder-link.png"), full_page=True)

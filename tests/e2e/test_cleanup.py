"""The clean-up list in a real browser: marketing sees the count at home, opens the list, gives two records an
owner and reads the action back."""

import re

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.cleanup import ACTION_ASSIGN
from fidelis.customers.models import Customer
from fidelis.customers.services import customer_create

pytestmark = pytest.mark.e2e


def test_marketing_assigns_two_records_of_the_cleanup_list_and_sees_the_audit(page, live_server, staff, log_in):
    # given two records without phone or e-mail and one in order
    manager, rep = staff[Role.MANAGER], staff[Role.SALES]
    bare = [customer_create(actor=manager, data={"name": name}) for name in ("缺联系甲", "缺联系乙")]
    customer_create(actor=manager, data={"name": "完整客户", "phone": "13800138000"})
    # when marketing opens the home page, the tile counts them
    log_in(page, "marketing")
    tile = page.locator("#cleanup-tile")
    expect(tile).to_contain_text("2")
    expect(tile).to_contain_text("待处理的档案")
    with page.expect_navigation():
        tile.locator("a").click()
    expect(page).to_have_url(re.compile(r"/customers/cleanup/$"))
    expect(page.locator("#cleanup-table")).to_contain_text("缺少必填信息")
    expect(page.locator("#cleanup-table")).not_to_contain_text("完整客户")
    # and gives both to the rep
    page.check("#cleanup-all")
    page.select_option("#cleanup-owner", str(rep.pk))
    with page.expect_navigation():
        page.click("#cleanup-assign")
    # then the page says so and lists the action
    expect(page.locator(".messages")).to_contain_text("已将 2 条记录分配给")
    recent = page.locator("#cleanup-recent")
    expect(recent).to_contain_text("已分配负责人")
    expect(recent).to_contain_text("缺联系甲")
    expect(recent).to_contain_text("缺联系乙")
    assert set(Customer.objects.filter(owner=rep).values_list("pk", flat=True)) == {c.pk for c in bare}
    assert AuditEntry.objects.filter(action=ACTION_ASSIGN, actor=staff[Role.MARKETING]).count() == 2

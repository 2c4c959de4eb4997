"""Duplicates in a real browser: review a pair, merge it, read the result page."""

import re

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.dedupe import duplicates_scan
from fidelis.customers.models import Customer
from fidelis.customers.services import customer_create

pytestmark = pytest.mark.e2e


def test_marketing_merges_a_duplicate_pair_and_reads_what_moved(page, live_server, staff, log_in):
    # given two records of one person, found by the scan
    manager = staff[Role.MANAGER]
    keep = customer_create(actor=manager, data={"name": "王芳", "phone": "13600136000"}, tags=["VIP"])
    absorb = customer_create(actor=manager, data={"name": "王芳", "phone": "13600136000", "city": "苏州",
                                                  "email": "wf@example.cn"}, tags=["老客户"], allow_duplicate=True)
    duplicates_scan()
    log_in(page, "marketing")
    # when they keep the older record and merge
    page.goto(f"{live_server.url}/customers/duplicates/")
    pair = page.locator("section.duplicate-pair").first
    pair.locator(f"input[name=keep][value='{keep.pk}']").check()
    with page.expect_navigation():
        pair.locator("button[value=merge]").click()
    # then the result page says what moved and shows the merged record as a card
    expect(page).to_have_url(re.compile(r"/customers/merges/\d+/$"))
    expect(page.locator("#merge-moved dt[data-kind=tags]")).to_contain_text("标签")
    expect(page.locator("#merge-moved dd[data-kind=tags]")).to_contain_text("老客户")
    card = page.locator("#merged-record")
    expect(card).to_contain_text("136 0013 6000")
    expect(card).to_contain_text("苏州")
    expect(card).not_to_contain_text("phone_reversed")
    # and links to the kept customer
    page.locator("#kept-customer a").click()
    expect(page).to_have_url(re.compile(f"/customers/{keep.public_id}/$"))
    assert Customer.objects.get(pk=absorb.pk).merged_into_id == keep.pk

"""The staff UI in a real browser: log in, search as you type, the 360° page, editing, languages, visibility."""

import re

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import Role
from fidelis.customers.models import Consent, Customer, LifecycleStage
from fidelis.customers.services import consent_set, contact_create, customer_create
from fidelis.events.services import record_event
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e


@pytest.fixture
def zhang(staff):
    manager = staff[Role.MANAGER]
    customer = customer_create(actor=manager, data={
        "name": "张三", "phone": "13800138000", "email": "zhangsan@example.cn", "city": "上海", "province": "上海",
        "category": "key", "value_tier": "high", "lifecycle_stage": "member", "occupation": "工程师",
        "interests": "宠物、旅行", "notes": "喜欢周末到店"}, tags=["宠物品种:泰迪", "VIP"])
    consent_set(actor=manager, customer=customer, channel="sms", granted=True, source="门店登记")
    consent_set(actor=manager, customer=customer, channel="email", granted=False, source="电话退订")
    record_event(customer=customer, type="order.paid", summary="订单 1001 · 狗粮", payload={"amount": "268.00"},
                 channel="store", touchpoint="静安店")
    record_event(customer=customer, type="store.visited", summary="到店美容", channel="store")
    customer_create(actor=manager, data={"name": "李四", "phone": "13900139000"})
    customer_create(actor=manager, data={"name": "张思睿", "phone": "13700137000"}, owner=staff[Role.MARKETING])
    return customer


@pytest.mark.smoke
def test_login_through_the_form_opens_the_chinese_home_page(page, live_server, staff, log_in):
    # given a manager at the login page of a Chinese browser
    page.goto(f"{live_server.url}/customers/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    # when they log in
    log_in(page, "manager")
    # then they see the home page with the navigation their role allows
    expect(page.locator("h1")).to_contain_text("manager user")
    expect(page.locator("nav.nav a[href='/accounts/users/']")).to_be_visible()


def test_login_with_a_wrong_password_stays_on_the_form(page, live_server, staff, log_in):
    log_in(page, "manager", "wrong-password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator(".form-error")).to_be_visible()


def test_read_only_user_sees_no_manager_pages_in_the_navigation(page, staff, zhang, log_in):
    log_in(page, "readonly")
    expect(page.locator("nav.nav a[href='/customers/']")).to_be_visible()
    expect(page.locator("nav.nav a[href='/accounts/users/']")).to_have_count(0)


def test_search_by_pinyin_initials_as_you_type_shows_the_customer(page, staff, zhang, log_in):
    # given the customer list
    log_in(page, "manager")
    page.click("nav.nav a[href='/customers/']")
    rows = page.locator("#customer-rows tr.customer-row")
    expect(rows).to_have_count(Customer.objects.count())
    # when the initials are typed, without pressing enter
    page.locator("#customer-search").press_sequentially("zs", delay=80)
    # then only the customers whose names start with z-s remain (张三; 张思睿 belongs to marketing: visible too)
    expect(rows).to_have_count(2)
    expect(page.locator(f"#customer-rows tr[data-number='{zhang.number}']")).to_be_visible()
    expect(page.locator("#customer-rows")).not_to_contain_text("李四")
    # and the heading counts the matches, not every customer
    count = page.locator("#customer-count")
    expect(count).to_contain_text("zs")
    expect(count).to_have_text(re.compile(r"\b2\b"))
    # and a phone number in any format finds him too
    page.fill("#customer-search", "")
    page.locator("#customer-search").press_sequentially("138-0013-8000", delay=30)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("张三")


@pytest.mark.smoke
def test_the_360_page_shows_profile_funnel_tags_consent_and_timeline(new_page, live_server, staff, zhang, log_in,
                                                                       artifacts):
    company = customer_create(actor=staff[Role.MANAGER], data={
        "name": "上海宠爱宠物用品有限公司", "kind": "company", "industry": "零售", "company_size": "small",
        "category": "key", "value_tier": "high", "lifecycle_stage": "loyal"})
    contact_create(actor=staff[Role.MANAGER], customer=company, name="钱采购", title="采购经理",
                   phone="13800138001", is_primary=True)
    zhang.refresh_from_db()
    stage = LifecycleStage.values.index(zhang.lifecycle_stage)
    for viewport, suffix in (({"width": 1280, "height": 900}, "desktop"), (PHONE, "phone")):
        page = new_page(viewport=viewport)
        log_in(page, "manager")
        # when the manager searches and opens the customer
        page.goto(f"{live_server.url}/customers/")
        page.locator("#customer-search").press_sequentially("zhangsan", delay=40)
        with page.expect_navigation():
            page.locator(f"#customer-rows tr[data-number='{zhang.number}'] a.strong").click()
        # then the 360° page shows every part
        expect(page.locator("#customer-name")).to_have_text("张三")
        expect(page.locator("#lifecycle-funnel li.current")).to_have_count(1)
        expect(page.locator("#lifecycle-funnel li").nth(stage)).to_have_class("current")
        expect(page.locator("#tags-panel")).to_contain_text("泰迪")
        expect(page.locator("#consent-panel tr[data-channel='sms']")).to_contain_text("门店登记")
        expect(page.locator("#timeline")).to_contain_text("订单 1001")
        expect(page.locator("#privacy-export")).to_be_visible()
        page.screenshot(path=str(artifacts / f"customer-360-{suffix}.png"), full_page=True)
        page.goto(f"{live_server.url}/customers/{company.public_id}/")
        expect(page.locator("#contacts")).to_contain_text("钱采购")
        page.screenshot(path=str(artifacts / f"company-360-{suffix}.png"), full_page=True)


def test_tags_and_consent_change_in_place_through_htmx(page, live_server, staff, zhang, log_in):
    log_in(page, "sales")
    page.goto(f"{live_server.url}/customers/{zhang.public_id}/")
    url = page.url
    # when a tag is typed as group:name and added
    page.fill("#tags-panel input[name=tag]", "兴趣:摄影")
    page.click("#tags-panel button[type=submit]")
    # then it shows in the panel without leaving the page
    expect(page.locator("#tags-panel")).to_contain_text("摄影")
    assert page.url == url
    assert zhang.tags.filter(name="摄影", group="兴趣").exists()
    # when the VIP tag is removed
    page.locator("#tags-panel .tag", has_text="VIP").locator("button").click()
    expect(page.locator("#tags-panel")).not_to_contain_text("VIP")
    # when the consent form is opened and WeChat consent is granted with its source
    page.click("#consent-open")
    page.select_option("#consent-panel select[name=channel]", "wechat")
    page.select_option("#consent-panel select[name=granted]", "1")
    page.fill("#consent-panel input[name=source]", "公众号关注")
    page.click("#consent-panel button[type=submit]")
    expect(page.locator("#consent-panel tr[data-channel='wechat']")).to_contain_text("公众号关注")
    expect(page.locator("#consent-form")).to_have_count(0)
    consent = Consent.objects.get(customer=zhang, channel="wechat")
    assert consent.granted and consent.recorded_by == staff[Role.SALES]
    assert not zhang.tags.filter(name="VIP").exists()


@pytest.mark.smoke
def test_edit_a_field_and_see_it_saved(page, live_server, staff, zhang, log_in):
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/{zhang.public_id}/")
    with page.expect_navigation():
        page.click("#edit-customer")
    page.fill("input[name=occupation]", "宠物美容师")
    page.fill("input[name=phone]", "139 0013 9001")
    with page.expect_navigation():
        page.click("#customer-form button[type=submit]")
    expect(page.locator("#field-occupation")).to_have_text("宠物美容师")
    expect(page.locator("#field-phone")).to_have_text("139 0013 9001")
    expect(page.locator("#timeline li[data-type='customer.updated']")).to_have_count(1)
    zhang.refresh_from_db()
    assert zhang.occupation == "宠物美容师" and zhang.phone == "+8613900139001"


def test_edit_with_a_bad_phone_shows_the_error_on_the_field(page, live_server, staff, zhang, log_in):
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/{zhang.public_id}/edit/")
    page.fill("input[name=phone]", "12345")
    with page.expect_navigation():
        page.click("#customer-form button[type=submit]")
    expect(page.locator("#error-phone")).to_contain_text("12345")
    zhang.refresh_from_db()
    assert zhang.phone == "+8613800138000"


def test_switch_language_to_english_and_traditional_chinese(page, live_server, staff, zhang, log_in):
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    # when English is chosen
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    # then the same page comes back in English
    expect(page).to_have_url(f"{live_server.url}/customers/")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("h1")).to_have_text("Customers")
    expect(page.locator("nav.nav")).to_contain_text("Customers")
    # and Traditional Chinese is one choice away
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hant")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    expect(page.locator("#language-select")).to_have_value("zh-hant")


def test_sales_rep_cannot_open_another_reps_customer(page, live_server, staff, zhang, log_in):
    theirs = Customer.objects.get(name="张思睿")
    log_in(page, "sales")
    response = page.goto(f"{live_server.url}/customers/{theirs.public_id}/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/customers/{theirs.public_id}/edit/")
    assert response.status == 404
    # and the search does not reveal it either
    page.goto(f"{live_server.url}/customers/")
    page.locator("#customer-search").press_sequentially("zs", delay=80)
    expect(page.locator(f"#customer-rows tr[data-number='{zhang.number}']")).to_be_visible()
    expect(page.locator("#customer-rows")).not_to_contain_text("张思睿")


def test_phone_layout_has_a_menu_button_that_opens_the_navigation(new_page, live_server, staff, log_in):
    page = new_page(viewport=PHONE)
    log_in(page, "manager")
    expect(page.locator("nav.nav")).to_be_hidden()
    page.click("label.menu-button")
    expect(page.locator("nav.nav a[href='/customers/']")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_timeline_loads_more_events_in_place(page, live_server, staff, zhang, log_in):
    for i in range(40):
        record_event(customer=zhang, type="call.logged", summary=f"回访 {i:02d}", channel="phone")
    log_in(page, "readonly")
    page.goto(f"{live_server.url}/customers/{zhang.public_id}/")
    events = page.locator("#timeline li.event")
    expect(events).to_have_count(30)
    page.click("#timeline-more button")
    expect(events).to_have_count(zhang.events.count())
    expect(page.locator("#timeline-more")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("回访 00")


def test_new_customer_with_a_known_phone_is_offered_the_stored_one_then_created_when_confirmed(page, live_server,
                                                                                                staff, zhang, log_in):
    # given a manager on the new-customer form
    log_in(page, "manager")
    page.goto(f"{live_server.url}/customers/new/")
    # when they enter the phone of 张三 in another format
    page.fill("input[name=name]", "张小三")
    page.fill("input[name=phone]", "138-0013-8000")
    with page.expect_navigation():
        page.click("#customer-form button[type=submit]")
    # then the form names and links 张三 and nothing is saved
    expect(page.locator("#duplicate-notice")).to_contain_text(zhang.number)
    expect(page.locator("#duplicate-link")).to_have_attribute("href", f"/customers/{zhang.public_id}/")
    expect(page.locator("#error-phone")).to_be_visible()
    assert Customer.objects.filter(phone="+8613800138000").count() == 1
    # when they confirm that this is another customer
    page.check("#id_confirm_duplicate")
    with page.expect_navigation():
        page.click("#customer-form button[type=submit]")
    # then the second record is saved and shown
    expect(page.locator("h1")).to_contain_text("张小三")
    assert Customer.objects.filter(phone="+8613800138000").count() == 2


def test_sales_rep_with_the_phone_of_a_hidden_customer_is_told_whom_to_ask(page, live_server, staff, zhang, log_in):
    # given 张思睿 belongs to marketing, whom the rep cannot see
    log_in(page, "sales")
    page.goto(f"{live_server.url}/customers/new/")
    page.fill("input[name=name]", "小张")
    page.fill("input[name=phone]", "137 0013 7000")
    with page.expect_navigation():
        page.click("#customer-form button[type=submit]")
    notice = page.locator("#duplicate-notice")
    expect(notice).to_contain_text("marketing user")
    expect(notice).not_to_contain_text("张思睿")
    expect(page.locator("#duplicate-link")).to_have_count(0)
    assert Customer.objects.filter(phone="+8613700137000").count() == 1

"""Display helpers: phones as people write them, masked contact data, dates and icons."""

import datetime
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.template import engines
from django.template.loader import render_to_string
from django.test import RequestFactory

from fidelis.web.templatetags.fidelis_ui import (
    audit_change,
    mask_email,
    mask_phone,
    phone,
    strftime,
)


def test_phone_formats_chinese_mobiles_and_landlines_nationally():
    assert phone("+8613912345678") == "139 1234 5678"
    assert phone("+862164881234") == "021 6488 1234"
    assert phone("+14155552671") == "+1 415-555-2671"
    assert phone("13912345678") == "139 1234 5678"  # the digits of a home number (a search key, a hint)
    assert phone("not a phone") == "not a phone"
    assert phone("") == ""


def test_mask_phone_hides_the_middle_digits():
    assert mask_phone("+8613912345678") == "139 **** 5678"
    assert mask_phone("") == ""


def test_mask_email_keeps_the_first_letter_and_the_domain():
    assert mask_email("zhangsan@example.cn") == "z***@example.cn"
    assert mask_email("") == ""


def test_audit_change_shows_old_and_new_values():
    assert audit_change(["readonly", "sales"]) == "readonly → sales"
    assert audit_change([None, "张三"]) == "张三"
    assert audit_change({"a": 1}) == "{'a': 1}"


def test_strftime_formats_in_the_current_time_zone_like_the_date_filter(settings):
    # given a moment in UTC and the site's time zone of Shanghai
    settings.TIME_ZONE = "Asia/Shanghai"
    moment = datetime.datetime(2026, 1, 31, 17, 5, tzinfo=ZoneInfo("UTC"))
    template = engines["django"].from_string(
        '{% load fidelis_ui %}{{ t|strftime:"%Y-%m-%d %H:%M" }}|{{ t|date:"Y-m-d H:i" }}|{{ none|strftime:"%Y" }}')
    # when the template shows it, then both filters give Shanghai's date and time, and nothing for none
    assert template.render({"t": moment, "none": None}) == "2026-02-01 01:05|2026-02-01 01:05|"
    assert strftime(None, "%Y") == ""



def test_the_pager_keeps_the_filters_and_replaces_the_page():
    # given a list page asked for with filters, on page 2
    request = RequestFactory().get("/customers/", {"category": "key", "q": "王 芳", "page": "2"})
    paginator = Paginator(range(100), 10)
    # when its pager renders
    html = render_to_string("web/_pager.html", {"page": paginator.page(2)}, request)
    # then both links keep the filters and name their own page, escaped for the attribute
    assert 'href="?category=key&amp;q=%E7%8E%8B+%E8%8A%B3&amp;page=1"' in html
    assert 'href="?category=key&amp;q=%E7%8E%8B+%E8%8A%B3&amp;page=3"' in html
    assert render_to_string("web/_pager.html", {"page": Paginator(range(5), 10).page(1)}, request).strip() == ""

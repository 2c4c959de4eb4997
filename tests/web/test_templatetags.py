"""Display helpers: phones as people write them, masked contact data, dates, icons and form widgets."""

import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.template import engines
from django.template.loader import render_to_string
from django.utils import translation

from fidelis.customers.forms import ConsentForm, TagForm
from fidelis.web.templatetags.fidelis_ui import (
    audit_change,
    icon,
    mask_email,
    mask_phone,
    phone,
    strftime,
    widget,
)


def test_phone_formats_chinese_mobiles_and_landlines_nationally():
    assert phone("+8613912345678") == "139 1234 5678"
    assert phone("+862164881234") == "021 6488 1234"
    assert phone("+14155552671") == "+1 415-555-2671"
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


def test_icon_is_the_svg_of_the_icon_template():
    assert icon("home") == render_to_string("web/_icon.html", {"name": "home"})
    assert icon("home").startswith("<svg")


def test_widget_of_a_blank_form_renders_as_the_field_does_in_each_language():
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert widget(TagForm()["tag"]) == str(TagForm()["tag"])
            assert widget(ConsentForm()["channel"]) == str(ConsentForm()["channel"])
    with translation.override("en"):
        english = widget(TagForm()["tag"])
    with translation.override("zh-hans"):
        assert widget(TagForm()["tag"]) != english


def test_widget_of_a_bound_or_prefilled_form_shows_its_own_values():
    bound = ConsentForm({"channel": "email", "granted": "0", "source": "电话退订"})
    assert 'value="电话退订"' in widget(bound["source"])
    assert '<option value="email" selected>' in widget(bound["channel"])
    assert 'value="门店"' in widget(ConsentForm(initial={"source": "门店"})["source"])
    assert 'id="x-tag"' in widget(TagForm(auto_id="x-%s")["tag"])


def test_widget_renders_forms_with_their_own_init_as_they_are():
    class PerUserForm(forms.Form):
        choice = forms.ChoiceField(choices=[])

        def __init__(self, *args, options=(), **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["choice"].choices = options

    assert "甲" in widget(PerUserForm(options=[("a", "甲")])["choice"])
    assert "乙" in widget(PerUserForm(options=[("b", "乙")])["choice"])

"""The 360° page's parts rendered by the customers_ui tags: lifecycle funnel, classification, profile cards and
timeline rows."""

import pytest
from django.template import engines
from django.utils import translation

from fidelis.customers import selectors
from fidelis.customers.services import customer_create
from fidelis.events.services import record_event


def _render(source: str, **context) -> str:
    with translation.override("en"):
        return engines["django"].from_string("{% load customers_ui %}" + source).render(context)


def test_lifecycle_funnel_marks_the_stages_before_as_done_and_the_customers_as_current():
    # when the funnel of a member (the third stage) renders
    html = _render("{% lifecycle_funnel stage %}", stage="member")
    # then the two stages before are done, the member stage is current, the rest are plain
    assert html.startswith('<ol class="funnel" id="lifecycle-funnel" aria-label="lifecycle stage">')
    assert '<li class="done" title="Interested">Interested</li><li class="done" title="Follower">' in html
    assert '<li class="current" title="Member" aria-current="step">Member</li>' in html
    assert '<li class="" title="Advocate">Advocate</li>' in html and html.count("aria-current") == 1


def test_lifecycle_funnel_of_an_unknown_stage_marks_nothing():
    html = _render("{% lifecycle_funnel stage %}", stage="gone")
    assert "done" not in html and "current" not in html


@pytest.mark.django_db
def test_classification_shows_the_badges_and_the_stages_position(manager):
    # given a member customer
    customer = customer_create(actor=manager, data={"name": "李四", "lifecycle_stage": "member"})
    # when its classification renders, then the stage is the third of six
    html = _render("{% classification customer %}", customer=customer)
    assert '<span class="label">category</span><span class="badge cat-potential">Potential</span>' in html
    assert '<span class="badge stage">Member</span>' in html and '<span class="muted small">3/6</span>' in html


@pytest.mark.django_db
def test_profile_cards_link_contact_data_or_hide_it_in_part_and_escape_every_value(manager):
    # given a customer with an employer, notes over two lines and markup in its values
    customer = customer_create(actor=manager, data={
        "name": "王五", "phone": "13912345678", "email": "ww@example.cn", "company_name": "<b>星河</b>",
        "notes": "第一行\n<i>第二行</i>"})
    # when the cards render in full and masked
    full = _render("{% profile_cards customer mask %}", customer=customer, mask=False)
    masked = _render("{% profile_cards customer mask %}", customer=customer, mask=True)
    # then the full cards link the phone and e-mail, the masked ones hide most of them and link nothing
    assert '<dd id="field-phone" class="num"><a href="tel:+8613912345678">139 1234 5678</a></dd>' in full
    assert '<a href="mailto:ww@example.cn">ww@example.cn</a>' in full
    assert '<dd id="field-phone" class="num">139 **** 5678</dd>' in masked and "w***@example.cn" in masked
    assert "tel:" not in masked and "mailto:" not in masked
    # and the employer card shows, with every value escaped and the notes' line break kept
    for html in (full, masked):
        assert 'id="company-data"' in html and "<h2>Employer</h2>" in html
        assert "&lt;b&gt;星河&lt;/b&gt;" in html and "第一行<br>&lt;i&gt;第二行&lt;/i&gt;" in html
        assert '<dd id="field-owner">' in html and "<dd>—</dd>" in html


@pytest.mark.django_db
def test_profile_cards_of_a_person_without_employer_have_no_company_card(manager):
    customer = customer_create(actor=manager, data={"name": "赵六"})
    html = _render("{% profile_cards customer False %}", customer=customer)
    assert 'id="basic-data"' in html and 'id="personal-notes"' in html and 'id="company-data"' not in html


@pytest.mark.django_db
def test_timeline_items_show_time_type_amount_summary_and_where_escaped(manager):
    # given a purchase with an amount at a touchpoint by the manager, and an event whose payload is a list
    customer = customer_create(actor=manager, data={"name": "钱七"})
    record_event(customer=customer, type="order.paid", summary="<订单> 1001", payload={"amount": "199.00"},
                 touchpoint="门店 & 柜台", actor=manager)
    record_event(customer=customer, type="custom.<x>", payload=[1, 2])
    events = selectors.customer_timeline_page(customer)
    # when the rows render
    html = _render("{% timeline_items events %}", events=events)
    # then each event is one row, the purchase with its amount, escaped summary and where it happened
    paid = next(e for e in events if e.type == "order.paid")
    assert f'<li class="event" data-type="order.paid" data-event="{paid.pk}">' in html
    assert '<strong>Purchase</strong><span class="amount">¥199.00</span>' in html
    assert "<div>&lt;订单&gt; 1001</div>" in html
    assert f"门店 &amp; 柜台 · {manager}</div>" in html
    # and the other event shows its type as it is, without an amount
    assert 'data-type="custom.&lt;x&gt;"' in html and "<strong>custom.&lt;x&gt;</strong>\n" in html
    assert html.count('class="amount"') == 1

"""The staff pages of the customer archive: list and search, create and edit, the 360° page and its panels."""

import re

import pytest
from django.urls import reverse

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.forms import FORM_FIELDS, CustomerForm
from fidelis.customers.models import Consent, Contact, Customer, CustomerTag, DuplicateCandidate
from fidelis.customers.services import (
    EDITABLE_FIELDS,
    consent_set,
    contact_create,
    customer_create,
    customer_tag_add,
)
from fidelis.events.models import Event
from fidelis.events.services import record_event
from tests.factories import UserFactory

NEW = {"kind": "individual", "category": "potential", "value_tier": "low", "lifecycle_stage": "interested"}


@pytest.fixture
def zhang(manager):
    return customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "email": "zs@example.cn"},
                           tags=["宠物品种:泰迪"])


def _edit_data(client, customer, **changes):
    form = client.get(reverse("customers:edit", args=[customer.public_id])).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(changes)
    return data


# --- list and search -------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_customer_list_anonymous_is_sent_to_login(client):
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


@pytest.mark.django_db
def test_customer_search_partial_finds_by_initials(client_for, users, zhang):
    response = client_for(users[Role.READONLY]).get(reverse("customers:search"), {"q": "zs"})
    assert response.status_code == 200
    assert zhang.number in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["张三", "zhangsan", "zs", "138 0013 8000", "+86-138-0013-8000", "zs@example.cn",
                                   "泰迪"])
def test_customer_search_partial_finds_by_every_key(client_for, manager, zhang, query):
    response = client_for(manager).get(reverse("customers:search"), {"q": query}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert zhang.number in body and "<html" not in body


@pytest.mark.django_db
def test_customer_search_partial_hides_another_reps_customer(client_for, users, manager):
    customer_create(actor=manager, data={"name": "张三丰"}, owner=users[Role.MARKETING])
    body = client_for(users[Role.SALES]).get(reverse("customers:search"), {"q": "zsf"}).content.decode()
    assert "张三丰" not in body and "zsf" in body


@pytest.mark.django_db
def test_customer_search_queries_do_not_grow_with_results(client_for, manager, django_assert_max_num_queries):
    for i in range(20):
        customer_create(actor=manager, data={"name": f"张{i}"}, tags=["VIP", f"组:{i}"])
    client = client_for(manager)
    # (one indexed query per search key, the tag lookup, the tags of the rows, the session with its user)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("customers:search"), {"q": "zhang"})
    assert response.content.decode().count('class="customer-row"') == 20


@pytest.mark.django_db
def test_customer_list_filters_by_category_tier_stage_and_tag(client_for, manager):
    # given
    hit = customer_create(actor=manager, data={"name": "甲", "category": "key", "value_tier": "high",
                                               "lifecycle_stage": "loyal"}, tags=["VIP"])
    customer_create(actor=manager, data={"name": "乙", "category": "key", "value_tier": "high",
                                         "lifecycle_stage": "loyal"})
    customer_create(actor=manager, data={"name": "丙", "category": "basic"}, tags=["VIP"])
    # when
    response = client_for(manager).get(reverse("customers:list"), {
        "category": "key", "value_tier": "high", "lifecycle_stage": "loyal", "tag": "VIP"})
    # then
    assert [c.pk for c in response.context["customers"]] == [hit.pk]


@pytest.mark.django_db
def test_customer_list_paginates_and_keeps_filters_in_the_page_links(client_for, manager):
    for i in range(55):
        customer_create(actor=manager, data={"name": f"客户{i}", "category": "key"})
    response = client_for(manager).get(reverse("customers:list"), {"category": "key"})
    body = response.content.decode()
    assert len(response.context["customers"]) == 50
    assert "category=key&amp;page=2" in body
    second = client_for(manager).get(reverse("customers:list"), {"category": "key", "page": 2})
    assert len(second.context["customers"]) == 5


@pytest.mark.django_db
def test_customer_list_offers_export_with_the_filters_only_to_roles_that_may_export(client_for, users):
    url = reverse("customers:list") + "?category=key"
    marketing = client_for(users[Role.MARKETING]).get(url).content.decode()
    assert reverse("customers:export") + "?category=key" in marketing
    sales = client_for(users[Role.SALES]).get(url).content.decode()
    assert reverse("customers:export") not in sales


@pytest.mark.django_db
def test_customer_list_masks_phones_for_read_only_users(client_for, users, zhang):
    readonly = client_for(users[Role.READONLY]).get(reverse("customers:list")).content.decode()
    assert "138 **** 8000" in readonly and "138 0013 8000" not in readonly
    manager = client_for(users[Role.MANAGER]).get(reverse("customers:list")).content.decode()
    assert "138 0013 8000" in manager


# --- create and edit -------------------------------------------------------------------------------------------

def test_customer_form_shows_every_editable_field_of_the_model():
    assert sorted(FORM_FIELDS) == sorted(EDITABLE_FIELDS)
    assert set(CustomerForm().fields) == set(EDITABLE_FIELDS) | {"owner", "confirm_duplicate"}


@pytest.mark.django_db
def test_customer_create_with_bad_phone_shows_error_on_the_field_and_writes_nothing(client_for, manager):
    response = client_for(manager).post(reverse("customers:create"), {"name": "李四", "phone": "12345", **NEW})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"] and 'id="error-phone"' in response.content.decode()
    assert not Customer.objects.filter(name="李四").exists()
    assert not AuditEntry.objects.filter(action="customer.create").exists()


@pytest.mark.django_db
def test_customer_create_by_sales_rep_makes_them_owner(client_for, sales):
    client = client_for(sales)
    assert client.get(reverse("customers:create")).context["form"]["owner"].value() == sales.pk
    response = client.post(reverse("customers:create"), {
        "name": "王小明", "phone": "+86 139-0013-9000", "owner": sales.pk, **NEW})
    customer = Customer.objects.get(name="王小明")
    assert response.status_code == 302
    assert customer.owner == sales and customer.phone == "+8613900139000"
    assert AuditEntry.objects.filter(action="customer.create", object_id=customer.public_id).exists()


@pytest.mark.django_db
def test_customer_create_by_sales_rep_cannot_assign_another_rep(client_for, users):
    other = users[Role.MARKETING]
    response = client_for(users[Role.SALES]).post(reverse("customers:create"), {"name": "王五", "owner": other.pk,
                                                                                **NEW})
    assert response.status_code == 200 and "owner" in response.context["form"].errors
    assert not Customer.objects.filter(name="王五").exists()


@pytest.mark.django_db
def test_customer_create_by_manager_assigns_an_active_sales_rep(client_for, manager, sales):
    form = client_for(manager).get(reverse("customers:create")).context["form"]
    assert sales in form.fields["owner"].queryset and manager not in form.fields["owner"].queryset
    client_for(manager).post(reverse("customers:create"), {"name": "赵六", "owner": sales.pk, **NEW})
    assert Customer.objects.get(name="赵六").owner == sales


@pytest.mark.django_db
def test_customer_create_with_a_known_phone_offers_the_stored_customer_and_writes_nothing(client_for, manager, zhang):
    # when: the phone of 张三 in another format
    response = client_for(manager).post(reverse("customers:create"), {"name": "张小三", "phone": "+86 138 0013 8000",
                                                                      **NEW})
    # then: the notice names and links the stored customer and offers to create anyway
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["form"].errors["phone"]
    assert 'id="duplicate-notice"' in page and zhang.number in page
    assert reverse("customers:detail", args=[zhang.public_id]) in page
    assert 'name="confirm_duplicate"' in page
    assert list(Customer.objects.values_list("name", flat=True)) == ["张三"]
    assert AuditEntry.objects.filter(action="customer.create").count() == 1


@pytest.mark.django_db
def test_customer_create_with_a_known_email_confirmed_creates_the_second_record(client_for, manager, zhang):
    # when: the user ticks "create anyway"
    response = client_for(manager).post(reverse("customers:create"), {
        "name": "张三", "email": "ZS@example.cn", "confirm_duplicate": "on", **NEW})
    # then
    assert response.status_code == 302
    twin = Customer.objects.exclude(pk=zhang.pk).get()
    assert twin.email == "zs@example.cn"
    assert AuditEntry.objects.get(action="customer.create", object_id=twin.public_id).changes["duplicate_of"] == [
        None, zhang.number]
    assert DuplicateCandidate.objects.filter(customer=zhang, other=twin, reason="email").exists()


@pytest.mark.django_db
def test_customer_create_form_shows_no_duplicate_notice_without_a_duplicate(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:create"), {"name": "李四", "phone": "12345", **NEW})
    page = response.content.decode()
    assert 'id="duplicate-notice"' not in page and 'name="confirm_duplicate"' not in page


@pytest.mark.django_db
def test_customer_create_by_sales_rep_with_phone_of_a_hidden_customer_names_only_its_owner(client_for, users,
                                                                                           manager):
    # given: another rep's customer
    colleague = UserFactory(username="li", role=Role.SALES, display_name="李经理")
    theirs = customer_create(actor=manager, owner=colleague, data={"name": "赵六", "phone": "13800138000"})
    rep = users[Role.SALES]
    # when
    response = client_for(rep).post(reverse("customers:create"), {
        "name": "小赵", "phone": "13800138000", "owner": rep.pk, **NEW})
    # then: whom to ask, no name, number or link of the record
    page = response.content.decode()
    assert response.status_code == 200 and 'id="duplicate-notice"' in page
    assert "李经理" in page
    assert "赵六" not in page and theirs.number not in page and theirs.public_id not in page
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_customer_create_company_then_add_a_contact(client_for, manager):
    client = client_for(manager)
    client.post(reverse("customers:create"), {**NEW, "name": "上海宠爱宠物用品有限公司", "kind": "company",
                                              "industry": "零售", "company_size": "small"})
    company = Customer.objects.get(name="上海宠爱宠物用品有限公司")
    response = client.post(reverse("customers:contact_add", args=[company.public_id]),
                           {"name": "钱采购", "title": "采购经理", "phone": "138-0013-8001", "is_primary": "on"})
    assert response.status_code == 302
    contact = Contact.objects.get(customer=company)
    assert (contact.name, contact.phone, contact.is_primary) == ("钱采购", "+8613800138001", True)
    assert "钱采购" in client.get(reverse("customers:detail", args=[company.public_id])).content.decode()


@pytest.mark.django_db
def test_customer_edit_saves_and_records_event(client_for, manager, zhang):
    client = client_for(manager)
    response = client.post(reverse("customers:edit", args=[zhang.public_id]),
                           _edit_data(client, zhang, occupation="宠物美容师"))
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    zhang.refresh_from_db()
    assert zhang.occupation == "宠物美容师" and zhang.tags.filter(name="泰迪").exists()
    assert Event.objects.filter(customer=zhang, type="customer.updated").exists()
    assert AuditEntry.objects.get(action="customer.update").changes == {"occupation": ["", "宠物美容师"]}


@pytest.mark.django_db
def test_customer_edit_of_the_wechat_id_is_saved(client_for, manager, zhang):
    # given
    client = client_for(manager)
    # when
    response = client.post(reverse("customers:edit", args=[zhang.public_id]),
                           _edit_data(client, zhang, wechat_id="zhangsan_wx"))
    # then
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.wechat_id == "zhangsan_wx"
    assert AuditEntry.objects.get(action="customer.update").changes == {"wechat_id": ["", "zhangsan_wx"]}
    assert Event.objects.get(customer=zhang, type="customer.updated").payload == {"fields": ["wechat_id"]}


@pytest.mark.django_db
def test_customer_edit_taken_number_shows_the_service_error_on_the_number(client_for, manager, zhang):
    other = customer_create(actor=manager, data={"name": "李四"})
    client = client_for(manager)
    response = client.post(reverse("customers:edit", args=[zhang.public_id]),
                           _edit_data(client, zhang, number=other.number, occupation="厨师"))
    assert response.status_code == 200
    assert other.number in " ".join(response.context["form"].errors["number"])
    zhang.refresh_from_db()
    assert zhang.occupation == "" and zhang.number != other.number


@pytest.mark.django_db
def test_customer_edit_of_another_reps_customer_is_404_for_sales(client_for, users, manager):
    theirs = customer_create(actor=manager, data={"name": "赵六"}, owner=users[Role.MARKETING])
    client = client_for(users[Role.SALES])
    assert client.get(reverse("customers:edit", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("customers:edit", args=[theirs.public_id]), {"name": "x", **NEW}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "赵六"


@pytest.mark.django_db
def test_customer_edit_by_sales_rep_of_an_unassigned_customer_is_allowed(client_for, sales, zhang):
    client = client_for(sales)
    response = client.post(reverse("customers:edit", args=[zhang.public_id]),
                           _edit_data(client, zhang, interests="旅行", owner=sales.pk))
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.interests == "旅行" and zhang.owner == sales


@pytest.mark.django_db
def test_customer_edit_is_forbidden_to_read_only_users(client_for, users, zhang):
    assert client_for(users[Role.READONLY]).get(reverse("customers:edit", args=[zhang.public_id])).status_code == 403


# --- the 360° page ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_customer_detail_of_another_reps_customer_is_404_for_sales(client_for, users, manager):
    theirs = customer_create(actor=manager, data={"name": "赵六"}, owner=users[Role.MARKETING])
    response = client_for(users[Role.SALES]).get(reverse("customers:detail", args=[theirs.public_id]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_customer_detail_shows_grouped_profile_funnel_position_consent_and_timeline(client_for, manager, zhang):
    consent_set(actor=manager, customer=zhang, channel="wechat", granted=True, source="公众号关注")
    record_event(customer=zhang, type="order.paid", summary="订单 1001", payload={"amount": "199.00"})
    client = client_for(manager)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("customers:detail", args=[zhang.public_id])).content.decode()
    for section in ("basic-data", "contact-data", "classification", "personal-notes", "timeline"):
        assert f'id="{section}"' in page
    assert 'class="current" title="Interested"' in page and "138 0013 8000" in page and "泰迪" in page
    # the cards (consent among them) and the timeline come with the parts the page loads after itself
    assert "公众号关注" not in page and "订单 1001" not in page
    body = _with_parts(client, page)
    assert 'id="consent"' in body and "公众号关注" in body and "订单 1001" in body and "¥199.00" in body


def _with_parts(client, page: str) -> str:
    """Return the page followed by every part it loads after itself (hx-trigger="load"), as a browser shows it."""
    urls = re.findall(r'hx-get="([^"]+)" hx-trigger="load"', page)
    assert urls
    parts = [client.get(url, HTTP_HX_REQUEST="true") for url in urls]
    assert all(part.status_code == 200 for part in parts), [(url, p.status_code) for url, p in zip(urls, parts, strict=True)]
    return page + "".join(part.content.decode() for part in parts)


@pytest.mark.django_db
def test_customer_detail_shows_privacy_buttons_only_to_managers(client_for, users, zhang):
    export = reverse("customers:person_export", args=[zhang.public_id])
    assert export in client_for(users[Role.MANAGER]).get(reverse("customers:detail", args=[zhang.public_id])) \
        .content.decode()
    for role in (Role.SALES, Role.MARKETING, Role.SERVICE, Role.READONLY):
        body = client_for(users[role]).get(reverse("customers:detail", args=[zhang.public_id])).content.decode()
        assert export not in body, role


@pytest.mark.django_db
def test_customer_detail_read_only_user_sees_no_edit_controls(client_for, users, zhang):
    client = client_for(users[Role.READONLY])
    body = _with_parts(client, client.get(reverse("customers:detail", args=[zhang.public_id])).content.decode())
    assert 'id="tags-panel"' in body and 'id="consent-panel"' in body
    assert reverse("customers:edit", args=[zhang.public_id]) not in body
    assert reverse("customers:tag_add", args=[zhang.public_id]) not in body
    assert reverse("customers:consent", args=[zhang.public_id]) not in body
    assert "138 **** 8000" in body


@pytest.mark.django_db
def test_customer_detail_query_count_is_fixed(client_for, manager, django_assert_max_num_queries):
    # given a company with tags, contacts, consents and a long timeline
    company = customer_create(actor=manager, data={"name": "宠爱公司", "kind": "company"}, tags=["VIP", "区域:华东"])
    for i in range(5):
        contact_create(actor=manager, customer=company, name=f"联系人{i}")
    for channel in ("sms", "email", "wechat"):
        consent_set(actor=manager, customer=company, channel=channel, granted=True, source="门店")
    for i in range(40):
        record_event(customer=company, type="store.visited", summary=f"visit {i}", actor=manager)
    client = client_for(manager)
    # when / then: the page (the session with its user, the customer, its tags, the contacts, the first events
    # that prove the lifecycle stages) and each part it loads: the cards (the session, the customer, the program
    # as the customer is no member, orders and their totals, opportunities and their totals, tasks, consents) and
    # the timeline
    with django_assert_max_num_queries(5):
        response = client.get(reverse("customers:detail", args=[company.public_id]))
    assert response.status_code == 200 and "联系人4" in response.content.decode() and "华东" in response.content.decode()
    for name, most in (("customers:panels", 10), ("customers:timeline", 3)):
        with django_assert_max_num_queries(most):
            part = client.get(reverse(name, args=[company.public_id]), HTTP_HX_REQUEST="true")
        assert part.status_code == 200, name
    assert len(part.context["events"]) == 30 and 'id="timeline-more"' in part.content.decode()


@pytest.mark.django_db
def test_customer_timeline_loads_older_events_after_the_last_shown(client_for, manager, zhang):
    for i in range(40):
        record_event(customer=zhang, type="store.visited", summary=f"visit {i:02d}")
    client = client_for(manager)
    first = client.get(reverse("customers:timeline", args=[zhang.public_id]), HTTP_HX_REQUEST="true").context["events"]
    more = client.get(reverse("customers:timeline", args=[zhang.public_id]), {"before": first[-1].pk},
                      HTTP_HX_REQUEST="true")
    shown = {e.pk for e in first} | {e.pk for e in more.context["events"]}
    assert len(shown) == Event.objects.filter(customer=zhang).count() > 30
    assert "Load more" not in more.content.decode() and "No events yet" not in more.content.decode()



def test_the_timeline_and_the_home_page_name_the_platforms_own_event_types(client_for, manager, zhang):
    # Opportunities, contracts, tiers and coupons are recorded by the platform, not offered as rule triggers: the
    # timeline and the latest events on the home page still name them in the user's language.
    for kind in ("opportunity.won", "contract.signed", "tier.changed", "coupon.redeemed"):
        record_event(customer=zhang, type=kind, channel="system")
    client = client_for(manager)
    timeline = client.get(reverse("customers:timeline", args=[zhang.public_id]), HTTP_HX_REQUEST="true")
    dashboard = client.get(reverse("web:dashboard"), HTTP_HX_REQUEST="true")
    for body in (timeline.content.decode(), dashboard.content.decode()):
        for label in ("商机赢单", "合同已签订", "等级变动", "优惠券已核销"):
            assert label in body
        assert "opportunity.won</" not in body and "· opportunity.won" not in body


@pytest.mark.django_db
def test_the_timeline_writes_amounts_grouped_by_thousands(client_for, manager, zhang):
    record_event(customer=zhang, type="order.paid", channel="store", payload={"amount": "3680.00", "order_no": "T1"})
    timeline = client_for(manager).get(reverse("customers:timeline", args=[zhang.public_id])).content.decode()
    assert "¥3,680.00" in timeline and "¥3680.00" not in timeline

# --- panels: tags and consent ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_tag_add_through_htmx_creates_the_tag_in_its_group_and_returns_the_panel(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:tag_add", args=[zhang.public_id]),
                                        {"tag": "兴趣:旅行"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.startswith('<div id="tags-panel">') and "旅行" in body
    tag = zhang.tags.get(name="旅行")
    assert tag.group == "兴趣"
    assert Event.objects.filter(customer=zhang, type="tag.added").exists()


@pytest.mark.django_db
def test_tag_add_too_long_shows_the_error_in_the_panel(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:tag_add", args=[zhang.public_id]),
                                        {"tag": "长" * 60}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert zhang.tags.count() == 1


@pytest.mark.django_db
def test_tag_remove_through_htmx_takes_the_tag_off(client_for, manager, zhang):
    tag = zhang.tags.get()
    response = client_for(manager).post(reverse("customers:tag_remove", args=[zhang.public_id, tag.pk]),
                                        HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'class="tag"' not in response.content.decode()
    assert not CustomerTag.objects.filter(customer=zhang).exists()


@pytest.mark.django_db
def test_tag_add_by_readonly_is_forbidden(client_for, users, zhang):
    response = client_for(users[Role.READONLY]).post(reverse("customers:tag_add", args=[zhang.public_id]),
                                                     {"tag": "VIP"})
    assert response.status_code == 403
    assert not zhang.tags.filter(name="VIP").exists()


@pytest.mark.django_db
def test_tag_add_without_htmx_redirects_to_the_360_page(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:tag_add", args=[zhang.public_id]), {"tag": "VIP"})
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail",
                                                                            args=[zhang.public_id])
    customer_tag_add(actor=manager, customer=zhang, tag_name="VIP")
    assert zhang.tags.filter(name="VIP").count() == 1


@pytest.mark.django_db
def test_consent_set_through_htmx_returns_the_panel(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:consent", args=[zhang.public_id]),
                                        {"channel": "sms", "granted": "1", "source": "门店登记"},
                                        HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="consent-panel"' in response.content.decode()
    consent = Consent.objects.get(customer=zhang, channel="sms")
    assert consent.granted and consent.source == "门店登记" and consent.recorded_by == manager


@pytest.mark.django_db
def test_customer_panels_bring_the_cards_the_role_may_see(client_for, users, zhang):
    # given a customer every role sees
    url = reverse("customers:panels", args=[zhang.public_id])
    # when a manager loads the cards, then every app's card comes, in page order, and consent last
    body = client_for(users[Role.MANAGER]).get(url, HTTP_HX_REQUEST="true").content.decode()
    cards = ('id="member-panel"', 'id="orders-panel"', 'id="opportunities-panel"', 'id="task-panel"', 'id="consent"')
    assert all(card in body for card in cards)
    assert [body.index(card) for card in cards] == sorted(body.index(card) for card in cards)
    # when the service desk loads them, then there is no opportunities card, as it may not see opportunities
    body = client_for(users[Role.SERVICE]).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="opportunities-panel"' not in body and 'id="consent"' in body


@pytest.mark.django_db
def test_customer_panels_of_another_reps_customer_are_404_for_sales(client_for, users, manager):
    theirs = customer_create(actor=manager, data={"name": "赵六"}, owner=users[Role.MARKETING])
    response = client_for(users[Role.SALES]).get(reverse("customers:panels", args=[theirs.public_id]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_consent_form_comes_on_demand_and_closes_after_recording(client_for, manager, zhang):
    client = client_for(manager)
    consent_url = reverse("customers:consent", args=[zhang.public_id])
    # given the consent card: the consents and a button that asks for the form, not the form
    card = client.get(reverse("customers:panels", args=[zhang.public_id]), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="consent-open"' in card and 'id="consent-form"' not in card
    # when the user opens it, then the form comes alone
    form = client.get(consent_url, HTTP_HX_REQUEST="true").content.decode()
    assert form.startswith('<form') and 'id="consent-form"' in form and 'name="source"' in form
    # when a consent is recorded, then the panel shows it with the form closed again
    panel = client.post(consent_url, {"channel": "sms", "granted": "1", "source": "门店登记"},
                        HTTP_HX_REQUEST="true").content.decode()
    assert "门店登记" in panel and 'id="consent-open"' in panel and 'id="consent-form"' not in panel


@pytest.mark.django_db
def test_consent_form_without_htmx_sends_to_the_360_page(client_for, manager, zhang):
    response = client_for(manager).get(reverse("customers:consent", args=[zhang.public_id]))
    assert response.status_code == 302 and response["Location"] == reverse("customers:detail",
                                                                           args=[zhang.public_id])


@pytest.mark.django_db
def test_consent_withdraw_is_recorded_with_its_source(client_for, manager, zhang):
    consent_set(actor=manager, customer=zhang, channel="email", granted=True, source="官网注册")
    client_for(manager).post(reverse("customers:consent", args=[zhang.public_id]),
                             {"channel": "email", "granted": "0", "source": "电话退订"}, HTTP_HX_REQUEST="true")
    consent = Consent.objects.get(customer=zhang, channel="email")
    assert not consent.granted and consent.source == "电话退订"
    assert Event.objects.filter(customer=zhang, type="consent.withdrawn").exists()


@pytest.mark.django_db
def test_consent_set_without_source_shows_an_error_and_writes_nothing(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:consent", args=[zhang.public_id]),
                                        {"channel": "sms", "granted": "1", "source": ""}, HTTP_HX_REQUEST="true")
    # the form stays open with the error
    body = response.content.decode()
    assert response.status_code == 200 and 'class="error"' in body and 'id="consent-form"' in body
    assert not Consent.objects.filter(customer=zhang).exists()

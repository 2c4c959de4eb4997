"""The clean-up list: which records need attention and why, the counts, the bulk actions, the page and the tile."""

import json
import random
import re
from datetime import timedelta

import phonenumbers
import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.accounts.services import api_token_create
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers import cleanup
from fidelis.customers.cleanup import CleanupReason
from fidelis.customers.models import Customer
from fidelis.customers.services import customer_create
from fidelis.events.models import Event
from fidelis.events.services import record_event
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _raw(customer: Customer, **values) -> Customer:
    """Write values as older data may hold them, past the services' checks."""
    Customer.objects.filter(pk=customer.pk).update(**values)
    customer.refresh_from_db()
    return customer


def _active(customer: Customer) -> Customer:
    record_event(customer=customer, type="store.visited")
    return customer


@pytest.fixture
def archive(manager):
    """One customer per reason, one in order, and records the list leaves out (archived, erased, merged)."""
    long_ago = timezone.now() - timedelta(days=4 * 365 + 30)
    made = {
        "fine": _active(CustomerFactory(name="好客户", email="ok@example.cn")),
        "phone": _active(_raw(CustomerFactory(name="坏电话"), phone="+8612345")),
        "phone_alt": _active(_raw(CustomerFactory(name="坏备用"), phone_alt="138-abc")),
        "email": _active(_raw(CustomerFactory(name="坏邮箱"), email="zs@@example")),
        "bounced": _active(CustomerFactory(name="退信", email="bounce@example.cn")),
        "old_bounce": _active(CustomerFactory(name="旧退信", email="new@example.cn")),
        "inactive": _raw(CustomerFactory(name="沉睡"), created_at=long_ago),
        "incomplete": _active(_raw(CustomerFactory(name="无联系"), phone="", phone_digits="")),
        "archived": _raw(CustomerFactory(name="已归档", phone=""), phone="+8612345", archived_at=timezone.now()),
        "erased": _raw(CustomerFactory(name="已删除"), phone="+8612345", erased_at=timezone.now()),
    }
    made["merged"] = _raw(CustomerFactory(name="已合并"), phone="+8612345", merged_into=made["fine"])
    record_event(customer=made["bounced"], type=cleanup.EMAIL_BOUNCED, payload={"email": "Bounce@example.cn"})
    record_event(customer=made["old_bounce"], type=cleanup.EMAIL_BOUNCED, payload={"email": "old@example.cn"})
    old = record_event(customer=made["inactive"], type="store.visited")[0]
    Event.objects.filter(pk=old.pk).update(occurred_at=long_ago)
    return made


def _names(user, **kwargs) -> set[str]:
    return {c.name for c in cleanup.cleanup_list(user, **kwargs)}


def test_phone_pattern_accepts_what_phonenumbers_deems_valid_and_nothing_else():
    rx = re.compile(cleanup.phone_pattern())
    rng = random.Random(7)
    for _ in range(20_000):
        digits = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 11)))
        number = phonenumbers.parse("+86" + digits, None)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number):
            assert rx.match(e164), e164
        if rx.match("+86" + digits):
            assert phonenumbers.is_valid_number(number), digits
    assert rx.match("+14155552671") and not rx.match("13800138000") and not rx.match("+86 138 0013 8000")


def test_whole_mobile_prefixes_hold_only_valid_numbers():
    rng = random.Random(11)
    for prefix in cleanup.WHOLE_MOBILE_PREFIXES:
        for suffix in ("00000000", "99999999", *(f"{rng.randrange(10**8):08d}" for _ in range(200))):
            assert phonenumbers.is_valid_number(phonenumbers.parse(prefix + suffix, None)), prefix + suffix


def test_a_common_mobile_whose_search_key_disagrees_is_checked_in_full(manager):
    # given a phone of a common prefix with letters in it, as older data may hold it
    odd = _active(_raw(CustomerFactory(name="字母号"), phone="+86138abcdefgh", phone_digits="138"))
    # then
    assert odd.name in _names(manager, years=3, reason=CleanupReason.INVALID_PHONE)


@pytest.mark.parametrize("email", ["zs@example.cn", "a.b+c@mail.example.com", "x_y@sub-domain.example.org",
                                   "李@例子.中国", "zs@@example", "zs@example", "zs example@x.cn", "zs@.cn",
                                   ".zs@example.cn", "zs..a@example.cn", "zs@-example.cn", "zs@example.c",
                                   "@example.cn", "zs@example.cn.", "zs@example-.cn"])
def test_email_pattern_agrees_with_djangos_validator(email):
    try:
        validate_email(email)
        valid = True
    except ValidationError:
        valid = False
    assert bool(re.match(cleanup.EMAIL_PATTERN, email, re.IGNORECASE)) == valid
    if re.match(cleanup.EMAIL_COMMON_PATTERN, email):
        assert valid


def test_cleanup_list_names_each_record_for_its_reason_and_leaves_out_archived_erased_and_merged(manager, archive):
    # when
    rows = {c.name: cleanup.cleanup_reasons_of(c) for c in cleanup.cleanup_list(manager, years=3)}
    # then
    assert rows == {"坏电话": [CleanupReason.INVALID_PHONE.label], "坏备用": [CleanupReason.INVALID_PHONE.label],
                    "坏邮箱": [CleanupReason.INVALID_EMAIL.label], "退信": [CleanupReason.BOUNCED.label],
                    "沉睡": [CleanupReason.INACTIVE.label], "无联系": [CleanupReason.INCOMPLETE.label]}
    assert _names(manager, years=3, reason=CleanupReason.BOUNCED) == {"退信"}
    assert _names(manager, years=5, reason=CleanupReason.INACTIVE) == set()


def test_cleanup_counts_are_one_query_and_match_the_list(manager, archive, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = cleanup.cleanup_counts(manager, years=3)
    assert counts == {"total": 6, "invalid_phone": 2, "invalid_email": 1, "bounced": 1, "inactive": 1,
                      "incomplete": 1}


def test_cleanup_respects_the_visibility_of_a_sales_rep(manager, sales, archive):
    # given: a rep's own record, another rep's and an unassigned one, all with a bad phone
    other = UserFactory(username="rep2", role=Role.SALES)
    _raw(archive["phone"], owner=sales)
    _raw(archive["phone_alt"], owner=other)
    # then the rep counts their own and the unassigned ones only
    assert "坏备用" not in _names(sales, years=3) and "坏电话" in _names(sales, years=3)
    with pytest.raises(DomainError):
        cleanup.cleanup_customers_for_ids(sales, [archive["phone_alt"].public_id])


@override_settings(FIDELIS_CLEANUP_REQUIRED_FIELDS=["name", "city"])
def test_required_fields_come_from_the_setting(manager, archive):
    assert "好客户" in _names(manager, years=3, reason=CleanupReason.INCOMPLETE)


@override_settings(FIDELIS_CLEANUP_REQUIRED_FIELDS=["name", "phone|nickname"])
def test_a_required_field_that_does_not_exist_is_refused():
    with pytest.raises(ImproperlyConfigured):
        cleanup.cleanup_required_fields()


@pytest.mark.parametrize("raw", ["0", "x", "51", "-1", "1.5"])
def test_cleanup_years_refuses_what_is_not_a_number_of_years(raw):
    with pytest.raises(DomainError) as exc:
        cleanup.cleanup_years(raw)
    assert exc.value.field == "years"


def test_customers_assign_gives_the_records_to_the_owner_with_an_audit_entry_each(users, archive):
    # given
    marketing, rep = users[Role.MARKETING], users[Role.SALES]
    chosen = cleanup.cleanup_customers_for_ids(marketing, [archive["phone"].public_id, archive["email"].public_id])
    # when
    n = cleanup.customers_assign(actor=marketing, customers=chosen, owner=rep)
    # then
    assert n == 2
    assert set(Customer.objects.filter(owner=rep).values_list("name", flat=True)) == {"坏电话", "坏邮箱"}
    entries = AuditEntry.objects.filter(action=cleanup.ACTION_ASSIGN, actor=marketing)
    assert {e.object_id for e in entries} == {archive["phone"].public_id, archive["email"].public_id}
    assert all(e.changes == {"owner_id": [None, rep.pk]} for e in entries)


@pytest.mark.parametrize("owner_role", [None, Role.READONLY, "inactive"])
def test_customers_assign_to_no_or_an_unfit_owner_is_refused_and_writes_nothing(users, archive, owner_role):
    owner = None
    if owner_role == "inactive":
        owner = UserFactory(username="gone", role=Role.SALES, is_active=False)
    elif owner_role:
        owner = users[owner_role]
    with pytest.raises(DomainError) as exc:
        cleanup.customers_assign(actor=users[Role.MARKETING], customers=[archive["phone"]], owner=owner)
    assert exc.value.field == "owner"
    assert not Customer.objects.filter(owner__isnull=False).exists()
    assert not AuditEntry.objects.filter(action=cleanup.ACTION_ASSIGN).exists()


def test_customers_archive_takes_the_records_off_the_list(users, archive):
    marketing = users[Role.MARKETING]
    n = cleanup.customers_archive(actor=marketing, customers=[archive["phone"], archive["inactive"]])
    assert n == 2 and "坏电话" not in _names(marketing, years=3) and "沉睡" not in _names(marketing, years=3)
    assert AuditEntry.objects.filter(action=cleanup.ACTION_ARCHIVE).count() == 2
    assert Customer.objects.get(pk=archive["phone"].pk).archived_at is not None


def test_bulk_actions_refuse_a_merged_record_and_change_none(users, archive):
    marketing = users[Role.MARKETING]
    with pytest.raises(DomainError):
        cleanup.customers_archive(actor=marketing, customers=[archive["phone"], archive["merged"]])
    assert not Customer.objects.filter(archived_at__isnull=False).exclude(pk=archive["archived"].pk).exists()


def test_bulk_actions_need_the_cleanup_capability(users, archive):
    with pytest.raises(PermissionDenied):
        cleanup.customers_archive(actor=users[Role.SALES], customers=[archive["phone"]])


def test_customers_erase_needs_the_privacy_capability_and_erases_none_when_refused(users, archive):
    # marketing cleans up, but only a manager erases personal data
    with pytest.raises(PermissionDenied):
        cleanup.customers_erase(actor=users[Role.MARKETING], customers=[archive["phone"], archive["email"]],
                                reason="清理")
    with pytest.raises(DomainError) as exc:
        cleanup.customers_erase(actor=users[Role.MANAGER], customers=[archive["phone"], archive["email"]], reason=" ")
    assert exc.value.field == "reason"
    assert not Customer.objects.filter(pk__in=[archive["phone"].pk, archive["email"].pk], erased_at__isnull=False)


def test_customers_erase_erases_every_record_with_the_privacy_audit(users, archive):
    manager = users[Role.MANAGER]
    n = cleanup.customers_erase(actor=manager, customers=[archive["phone"], archive["email"]], reason="长期无效")
    assert n == 2
    assert Customer.objects.filter(pk__in=[archive["phone"].pk, archive["email"].pk], erased_at__isnull=False).count() == 2
    assert AuditEntry.objects.filter(action="customer.erase").count() == 2
    assert "坏电话" not in _names(manager, years=3)


def test_a_bounce_sent_through_the_events_api_puts_the_customer_on_the_list(client, manager, users):
    # given a mail system with a token that records events
    customer = _active(customer_create(actor=manager, data={"name": "邮件用户", "email": "mu@example.cn",
                                                            "phone": "13900139111"}))
    _token, raw = api_token_create(actor=manager, user=manager, name="mail", scopes=["events:write"])
    # when it reports a bounce
    response = client.post("/api/events", data=json.dumps({
        "customer": customer.public_id, "type": "email.bounced", "payload": {"email": "mu@example.cn"}}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    # then
    assert response.status_code in (200, 201), response.content
    assert _names(users[Role.MARKETING], years=3, reason=CleanupReason.BOUNCED) == {"邮件用户"}


# The page


def test_cleanup_page_lists_records_with_reasons_in_chinese(client_for, users, archive):
    page = client_for(users[Role.MARKETING]).get(reverse("customers:cleanup")).content.decode()
    assert "档案清理" in page and "6 条记录待处理" in page
    assert "电话号码无效" in page and "邮件被退回" in page and "长期无活动" in page and "缺少必填信息" in page
    assert "坏电话" in page and "好客户" not in page and "已归档" not in page


def test_cleanup_page_speaks_english_and_filters_by_reason(client_for, users, archive):
    client = client_for(users[Role.MARKETING])
    client.post(reverse("set_language"), {"language": "en"})
    page = client.get(reverse("customers:cleanup") + "?reason=bounced").content.decode()
    assert "Archive clean-up" in page and "E-mail bounced" in page
    assert "退信" in page and "坏电话" not in page


@pytest.mark.parametrize("query", ["?years=abc", "?years=0", "?reason=nonsense"])
def test_cleanup_page_answers_bad_parameters_with_a_message(client_for, users, archive, query):
    response = client_for(users[Role.MARKETING]).get(reverse("customers:cleanup") + query)
    assert response.status_code == 200 and 'class="form-error"' in response.content.decode()


def test_cleanup_page_bulk_assigns_and_shows_the_action(client_for, users, archive):
    # given
    marketing, rep = users[Role.MARKETING], users[Role.SALES]
    client = client_for(marketing)
    url = reverse("customers:cleanup") + "?reason=invalid_phone"
    # when
    response = client.post(url, {"action": "assign", "owner": str(rep.pk),
                                  "customers": [archive["phone"].public_id, archive["phone_alt"].public_id]})
    # then
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url).content.decode()
    assert "已将 2 条记录分配给" in page and "已分配负责人" in page
    assert Customer.objects.filter(owner=rep).count() == 2


@pytest.mark.parametrize("data", [
    {"action": "assign", "owner": "999999"},
    {"action": "assign", "owner": "x"},
    {"action": "archive", "extra": "unknown"},
    {"action": "explode"},
])
def test_cleanup_page_refuses_bad_input_with_a_message_and_changes_nothing(client_for, users, archive, data):
    client = client_for(users[Role.MARKETING])
    ids = [archive["phone"].public_id] + (["nope0000nope0000"] if "extra" in data else [])
    response = client.post(reverse("customers:cleanup"), {**data, "customers": ids}, follow=True)
    assert response.status_code == 200 and 'class="msg-error"' in response.content.decode()
    assert not Customer.objects.filter(owner__isnull=False).exists()
    assert not Customer.objects.filter(archived_at__isnull=False).exclude(pk=archive["archived"].pk).exists()
    assert not AuditEntry.objects.filter(action__in=cleanup.CLEANUP_ACTIONS).exists()


def test_home_page_of_marketing_loads_the_tile_with_the_count(client_for, users, archive):
    client = client_for(users[Role.MARKETING])
    assert reverse("customers:cleanup_tile") in client.get(reverse("web:home")).content.decode()
    tile = client.get(reverse("customers:cleanup_tile")).content.decode()
    assert 'id="cleanup-tile"' in tile and ">6<" in tile and "待处理的档案" in tile


def test_home_page_of_a_sales_rep_has_no_tile(client_for, sales):
    assert reverse("customers:cleanup_tile") not in client_for(sales).get(reverse("web:home")).content.decode()


def test_cleanup_page_erases_for_a_manager_and_refuses_marketing(client_for, users, archive):
    ids = [archive["phone"].public_id, archive["email"].public_id]
    # marketing does not see the action, and is refused when sending it anyway
    client = client_for(users[Role.MARKETING])
    assert 'value="erase"' not in client.get(reverse("customers:cleanup")).content.decode()
    page = client.post(reverse("customers:cleanup"), {"action": "erase", "reason": "清理", "customers": ids},
                       follow=True).content.decode()
    assert 'class="msg-error"' in page and not Customer.objects.filter(erased_at__isnull=False).exclude(
        pk=archive["erased"].pk).exists()
    # a manager erases both
    client = client_for(users[Role.MANAGER])
    assert 'value="erase"' in client.get(reverse("customers:cleanup")).content.decode()
    client.post(reverse("customers:cleanup"), {"action": "erase", "reason": "长期无效", "customers": ids})
    assert Customer.objects.filter(pk__in=[archive["phone"].pk, archive["email"].pk],
                                   erased_at__isnull=False).count() == 2

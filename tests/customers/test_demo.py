import io
import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from random import Random

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from fidelis.accounts.models import AuditEntry, Role, User
from fidelis.customers.demo import (
    DEMO_NOW,
    FAMILY_NAMES,
    HISTORY_DAYS,
    TAG_GROUPS,
    demo_customers_load,
    generate_customers,
)
from fidelis.customers.models import (
    Consent,
    Contact,
    Customer,
    CustomerKind,
    CustomerTag,
    LifecycleStage,
    Tag,
)
from fidelis.customers.normalize import normalize_phone
from fidelis.customers.selectors import customer_search
from fidelis.customers.services import customer_prepare
from fidelis.events.models import Event

CONSENT_SOURCES = {"门店登记", "微信公众号", "小程序", "游戏活动", "商场活动"}


def _constraints() -> dict[str, list]:
    with connection.cursor() as cursor:
        return {model._meta.db_table: sorted(
            (name, tuple(c["columns"]), c["index"], c["unique"], bool(c["foreign_key"]))
            for name, c in connection.introspection.get_constraints(cursor, model._meta.db_table).items())
            for model in (Customer, Event, Consent, Contact, CustomerTag)}


def _generate(count: int, seed: int = 7, owner_ids=(11, 12, 13)):
    return list(generate_customers(Random(seed), count, now=DEMO_NOW, owner_ids=list(owner_ids)))


def test_generate_customers_same_seed_gives_same_data():
    # given / when
    first, again, other = _generate(200), _generate(200), _generate(200, seed=8)
    # then
    assert [d.customer for d in first] == [d.customer for d in again]
    assert [d.events for d in first] == [d.events for d in again]
    assert [(d.tags, d.consents, d.contacts) for d in first] == [(d.tags, d.consents, d.contacts) for d in again]
    assert [d.customer["name"] for d in first] != [d.customer["name"] for d in other]


def test_generate_customers_names_phones_and_search_keys_match_what_the_ui_stores():
    # given
    family_names = set(FAMILY_NAMES[0])
    # when
    demos = _generate(400)
    # then
    for demo in demos:
        c = demo.customer
        assert normalize_phone(c["phone"]) == c["phone"], c["phone"]
        if c["kind"] == CustomerKind.INDIVIDUAL:
            family = c["name"][:2] if c["name"][:2] in family_names else c["name"][:1]
            assert family in family_names
            assert 1 <= len(c["name"]) - len(family) <= 2, c["name"]
        assert c["province"] and c["city"] and c["district"] and c["address"]
        # The search keys are those customer_prepare computes for the same input.
        typed = Customer(**{k: v for k, v in c.items() if k not in ("created_at", "updated_at")})
        customer_prepare(typed)
        for key in ("name_pinyin", "name_initials", "phone_digits", "phone_reversed", "phone_alt_digits",
                    "email_normalized", "company_key", "phone", "email"):
            assert getattr(typed, key) == c[key], (key, c["name"])
    names = Counter(d.customer["name"][:1] for d in demos)
    assert names.most_common(1)[0][0] in "王李张刘陈"
    companies = [d for d in demos if d.customer["kind"] == CustomerKind.COMPANY]
    assert companies and all(d.contacts and d.customer["company_name"].endswith("公司") for d in companies)


def test_generate_customers_funnel_narrows_from_interested_to_advocates():
    # when
    stages = Counter(d.customer["lifecycle_stage"] for d in _generate(3000))
    # then
    order = [LifecycleStage.FOLLOWER, LifecycleStage.MEMBER, LifecycleStage.BUYER, LifecycleStage.LOYAL,
             LifecycleStage.ADVOCATE]
    assert stages[LifecycleStage.INTERESTED] > stages[LifecycleStage.MEMBER]
    assert [stages[s] for s in order] == sorted((stages[s] for s in order), reverse=True)
    assert stages[LifecycleStage.ADVOCATE] > 0


def test_generate_customers_repeat_buyers_have_been_customers_long_enough_for_their_purchases():
    # when
    demos = _generate(3000)
    # then: at most about one purchase a fortnight since the first contact, companies included
    buyers = [(d, sum(e.type == "order.paid" for e in d.events)) for d in demos]
    buyers = [(d, n) for d, n in buyers if n]
    assert len(buyers) > 300 and any(d.customer["kind"] == "company" for d, _n in buyers)
    for demo, orders in buyers:
        assert (DEMO_NOW - demo.customer["created_at"]).days >= 14 * orders - 1, (demo.customer["name"], orders)


def test_generate_customers_some_buyers_never_join_the_club():
    # when
    demos = _generate(2000)
    # then: the program page has non-members' repeat purchases to compare the members' with
    walk_ins = [d for d in demos if any(e.type == "order.paid" for e in d.events)
                and not any(e.type == "member.joined" for e in d.events)]
    members = [d for d in demos if any(e.type == "member.joined" for e in d.events)]
    assert walk_ins and len(walk_ins) < len(members)
    assert {d.customer["lifecycle_stage"] for d in walk_ins} == {"buyer"}


def test_generate_customers_timeline_lies_in_the_two_years_before_now_in_order():
    # when
    demos = _generate(500)
    # then
    oldest = DEMO_NOW - timedelta(days=HISTORY_DAYS + 1)
    types = Counter()
    for demo in demos:
        times = [e.occurred_at for e in demo.events]
        assert times == sorted(times)
        assert oldest <= times[0] and times[-1] <= DEMO_NOW
        assert demo.events[0].type == "customer.created"
        assert demo.customer["created_at"] == times[0]
        types.update(e.type for e in demo.events)
        for event in demo.events:
            if event.type == "order.paid":
                assert re.fullmatch(r"\d+\.\d\d", event.payload["amount"])
                assert Decimal(event.payload["amount"]) > 0 and event.payload["currency"] == "CNY"
        for consent in demo.consents:
            assert consent.source in CONSENT_SOURCES
    for expected in ("customer.created", "wechat.followed", "member.joined", "store.visited", "order.paid",
                     "call.logged", "consent.granted", "survey.answered", "complaint.filed"):
        assert types[expected] > 0, expected


@pytest.mark.django_db
def test_demo_customers_load_writes_customers_with_their_rows_and_one_audit_entry(users, manager):
    # given
    reps = sorted(u.pk for u in users.values() if u.role == Role.SALES)
    expected = _generate(300, seed=3, owner_ids=reps)
    before = _constraints()
    # when
    result = demo_customers_load(actor=manager, count=300, seed=3, owner_ids=reps, chunk=120)
    # then: the indexes and foreign keys, dropped during the load, are all back
    assert _constraints() == before
    assert result == {"customers": 300, "events": sum(len(d.events) for d in expected)}
    assert Customer.objects.count() == 300 and Event.objects.count() == result["events"]
    stored = {c.number: c for c in Customer.objects.all()}
    assert sorted(stored) == [f"C{n:08d}" for n in range(1, 301)]
    first = Customer.objects.get(number="C00000001")
    assert first.name == expected[0].customer["name"]
    assert first.created_at == expected[0].customer["created_at"]
    assert len(first.public_id) == 16
    assert Consent.objects.count() == sum(len(d.consents) for d in expected)
    assert Contact.objects.count() == sum(len(d.contacts) for d in expected)
    assert CustomerTag.objects.count() == sum(len(set(d.tags)) for d in expected)
    assert set(Tag.objects.filter(group="宠物品种").values_list("name", flat=True)) == set(TAG_GROUPS["宠物品种"])
    paid = Event.objects.filter(type="order.paid").first()
    assert paid is not None and Decimal(paid.payload["amount"]) > 0
    assert AuditEntry.objects.filter(action="demo.load").count() == 1
    assert not AuditEntry.objects.filter(action="customer.create").exists()
    # Found by the same search as customers typed into the UI.
    phone = first.phone_digits
    assert first in customer_search(manager, f"{phone[:3]} {phone[3:7]} {phone[7:]}")
    assert first in customer_search(manager, first.number)


@pytest.mark.django_db
def test_demo_as_of_today_ends_the_history_now_with_this_weeks_tasks():
    from django.utils import timezone

    from fidelis.events.models import Event
    from fidelis.work.models import Task

    # when: the demo is loaded as `make demo` loads it
    before = timezone.now()
    call_command("demo", customers=60, no_serve=True, as_of="today", stdout=io.StringIO())
    # then: nothing happened after the moment it was loaded, the latest purchases are recent, and tasks are due
    # around today rather than weeks ago
    latest = Event.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    assert latest <= timezone.now()
    assert Event.objects.filter(occurred_at__gte=before - timedelta(days=30)).exists()
    due = list(Task.objects.values_list("due_at", flat=True))
    assert due and max(due) >= before and min(due) >= before - timedelta(days=30)


@pytest.mark.django_db
def test_demo_command_creates_users_once_prints_logins_and_skips_a_second_load():
    # given
    out = io.StringIO()
    # when
    call_command("demo", customers=60, no_serve=True, stdout=out)
    names = list(Customer.objects.order_by("number").values_list("name", flat=True))
    call_command("demo", customers=60, no_serve=True, stdout=out)
    # then
    text = out.getvalue()
    assert Customer.objects.count() == 60
    assert User.objects.count() == 7
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert User.objects.filter(role=Role.SALES).count() == 3
    manager = User.objects.get(username="manager")
    assert manager.check_password("fidelis-demo")
    assert "manager" in text and "fidelis-demo" in text and "http://127.0.0.1:8000/" in text
    assert "already has 60 customers" in text
    owners = set(Customer.objects.exclude(owner=None).values_list("owner__role", flat=True))
    assert owners == {Role.SALES}
    # --reset with the same seed loads the same customers again.
    call_command("demo", customers=60, no_serve=True, reset=True, stdout=io.StringIO())
    assert list(Customer.objects.order_by("number").values_list("name", flat=True)) == names
    assert User.objects.count() == 7


@pytest.mark.django_db
def test_demo_timeline_lines_of_system_events_follow_the_viewers_language(manager):
    # given the demo's customers and their timelines
    demo_customers_load(actor=manager, count=200, seed=5, owner_ids=[], chunk=100)
    han = re.compile(r"[\u4e00-\u9fff]")
    # when the system's own events are shown in English
    with translation.override("en"):
        lines = {t: [e.line for e in Event.objects.filter(type=t)[:30]]
                 for t in ("member.joined", "order.paid", "consent.granted")}
    # then their words are English: only names (the club, a source) may be Chinese
    assert all(line.startswith("Joined ") for line in lines["member.joined"]) and lines["member.joined"]
    assert all(line.startswith("Order ") and not han.search(line) for line in lines["order.paid"])
    assert lines["consent.granted"] and not any(line.startswith(("短信", "邮件", "电话")) for line in
                                                lines["consent.granted"])

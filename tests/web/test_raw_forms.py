"""One way to write money, counts, dates and phones: the `money` and `count` filters, and every page of the staff
UI reachable from the navigation (with the detail pages of an order, a member, an opportunity, a contract and a
task) read for the raw forms they replace: ¥3680.00, 2026-12-08T10:00, +8613600136000."""

import html
import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation

from fidelis.customers.services import customer_create
from fidelis.loyalty.services import member_enrol, points_adjust
from fidelis.loyalty.templates import starter_program
from fidelis.pipeline.services import contract_create, opportunity_create
from fidelis.sales.services import category_save, order_create, order_refund, product_save, store_save
from fidelis.web.templatetags.fidelis_ui import count, money
from fidelis.work.services import task_create

pytestmark = pytest.mark.django_db

RAW_FORMS = {
    "money without thousands separators": re.compile(r"¥\s?-?\d{4,}"),
    "ISO date and time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d"),
    "phone as stored (+86…)": re.compile(r"\+86\s?\d"),
}
# Pages whose templates belong to other parts of the archive (the 360° page and its timeline, duplicates and
# merges, imports, exports, the audit log): read by their own test below, not by the crawl's.
ELSEWHERE = ("customers:detail", "customers:timeline", "customers:duplicates", "customers:duplicate_review",
             "customers:merge_detail", "customers:import_start", "customers:import_detail", "customers:export",
             "customers:person_export", "sales:import_start", "sales:import_detail", "accounts:audit")
SKIP = re.compile(r"^/(static|api|i18n)/|^/accounts/logout|[?&]export=|\.(svg|ico|csv|xlsx)$")
MAX_PAGES = 150


@pytest.mark.parametrize("value,written", [
    (Decimal("3680"), "¥3,680.00"), ("3680.5", "¥3,680.50"), (1234567.005, "¥1,234,567.01"), (0, "¥0.00"),
    (Decimal("-31"), "−¥31.00"), (None, ""), ("", ""), ("n/a", "n/a")])
def test_money_writes_yuan_grouped_with_two_decimals_in_every_language(value, written):
    for language in ("zh-hans", "zh-hant", "en"):
        with translation.override(language):
            assert money(value) == written


@pytest.mark.parametrize("value,written", [(5000, "5,000"), ("12", "12"), (-1200, "−1,200"), (None, ""),
                                           (Decimal("1000000"), "1,000,000")])
def test_count_writes_whole_numbers_grouped_in_every_language(value, written):
    for language in ("zh-hans", "zh-hant", "en"):
        with translation.override(language):
            assert count(value) == written


@pytest.fixture
def shop(manager):
    """A member with 5,000 points who paid an order of ¥3,680 (¥1,200 refunded), an opportunity of ¥12,800, a
    contract of ¥36,800 and a task, all made through the services."""
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, data={"name": "林晓", "phone": "13600136000"})
    member, _new = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    points_adjust(actor=manager, member=member, points=5000 - member.balance, reason="开业补发")
    member.refresh_from_db()
    assert member.balance == 5000
    store_save(actor=manager, data={"code": "1F-08", "name": "金饰珠宝"})
    gold = category_save(actor=manager, data={"name": "黄金"})
    product = product_save(actor=manager, data={"sku": "AU-001", "name": "足金手镯", "category": gold,
                                                "list_price": Decimal("3680.00")})
    order = order_create(actor=manager, customer=customer, channel="store", store="1F-08", payment_method="card",
                         lines=[{"product": product, "quantity": 1}],
                         paid_at=timezone.now() - timedelta(days=2))
    order_refund(actor=manager, order=order, amount=Decimal("1200.00"), reason="尺寸不合")
    opportunity = opportunity_create(actor=manager, customer=customer, title="婚庆金饰套装",
                                     expected_amount=Decimal("12800"))
    contract = contract_create(actor=manager, customer=customer, number="HT-2026-001", amount=Decimal("36800"),
                               start_date=date.today(), end_date=date.today() + timedelta(days=365))
    task = task_create(actor=manager, title="回访：金饰保养", customer=customer,
                       due_at=timezone.now() + timedelta(days=1))
    return {"customer": customer, "member": member, "order": order, "opportunity": opportunity,
            "contract": contract, "task": task}


def _text(body: str) -> str:
    """Return what a reader sees of a page: no scripts, styles or attributes (form values are ISO by design)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _raw_forms(body: str) -> list[str]:
    text = _text(body)
    return [f"{name}: {match.group(0)!r}" for name, pattern in RAW_FORMS.items() for match in pattern.finditer(text)]


def _view_name(path: str) -> str:
    try:
        return resolve(path).view_name
    except Resolver404:
        return ""


def _crawl(client, starts: list[str]) -> dict[str, tuple[str, str]]:
    """Return {url: (view name, body)} of the pages reached from `starts` by links and htmx loads, two steps deep;
    one page per path (its first query string); the pages kept elsewhere are left to their own test."""
    pages: dict[str, tuple[str, str]] = {}
    seen_paths: set[str] = set()
    frontier = [(url, False) for url in starts]
    for _depth in range(3):
        found = []
        for url, partial in frontier:
            path = urlsplit(url).path
            if path in seen_paths or len(pages) >= MAX_PAGES or _view_name(path) in ELSEWHERE:
                continue
            seen_paths.add(path)
            response = client.get(url, **({"HTTP_HX_REQUEST": "true"} if partial else {}))
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            body = response.content.decode()
            pages[url] = (_view_name(path), body)
            for attribute, link in re.findall(r'\b(href|hx-get)="([^"#]+)', body):
                link = urljoin(url, html.unescape(link))
                if link.startswith("/") and not SKIP.search(link) and urlsplit(link).path not in seen_paths:
                    found.append((link, attribute == "hx-get"))
        frontier = found
    return pages


def _details(shop) -> list[str]:
    return [reverse("sales:product_list"),  # the catalogue: opened from the order form's product picker
            reverse("sales:order_detail", args=[shop["order"].public_id]),
            reverse("sales:order_refund", args=[shop["order"].public_id]),
            reverse("loyalty:member_detail", args=[shop["member"].public_id]),
            reverse("pipeline:opportunity_detail", args=[shop["opportunity"].public_id]),
            reverse("pipeline:contract_detail", args=[shop["contract"].public_id]),
            reverse("work:task_detail", args=[shop["task"].public_id]),
            reverse("customers:panels", args=[shop["customer"].public_id])]


def test_every_page_from_the_navigation_writes_money_counts_dates_and_phones_one_way(client_for, manager, shop):
    # given a manager (who sees every entry of the navigation) and the shop's orders, member and deals
    client = client_for(manager)
    # when every page reachable from the navigation and the objects' detail pages are read
    pages = _crawl(client, [reverse("web:home"), *_details(shop)])
    # then the crawl reached the navigation's entries and the objects' pages ...
    names = {name for name, _body in pages.values()}
    for name in ("web:dashboard", "loyalty:program", "loyalty:members", "loyalty:member_detail", "sales:orders",
                 "sales:order_detail", "sales:product_list", "sales:report_sales", "pipeline:board",
                 "pipeline:opportunities", "pipeline:opportunity_detail", "pipeline:contracts",
                 "pipeline:contract_detail", "pipeline:report", "work:tasks", "work:task_detail", "work:rules"):
        assert name in names, name
    # ... and none of them writes a raw amount, ISO time or stored phone
    found = {url: raw for url, (_name, body) in pages.items() if (raw := _raw_forms(body))}
    assert found == {}
    # and the amounts and points show as the tills print them
    bodies = dict(pages.values())
    assert "¥3,680.00" in bodies["sales:order_detail"] and "¥1,200.00" in bodies["sales:order_detail"]
    assert "5,000" in bodies["loyalty:member_detail"] and "¥36,800.00" in bodies["pipeline:contract_detail"]
    assert "¥12,800.00" in bodies["pipeline:opportunity_detail"]


@pytest.mark.parametrize("name", ["customers:detail", "customers:timeline", "customers:duplicates",
                                  "customers:import_start", "sales:import_start", "accounts:audit"])
def test_pages_kept_elsewhere_write_money_dates_and_phones_one_way(client_for, manager, shop, name):
    client = client_for(manager)
    args = [shop["customer"].public_id] if name in ("customers:detail", "customers:timeline") else []
    partial = {"HTTP_HX_REQUEST": "true"} if name == "customers:timeline" else {}
    response = client.get(reverse(name, args=args), **partial)
    assert response.status_code == 200
    assert _raw_forms(response.content.decode()) == []

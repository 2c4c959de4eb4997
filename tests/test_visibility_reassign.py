"""A customer given to another rep leaves every page and API list of the former owner.

The routes are read from the URLconf and the API's routers (as the permission matrix does), so a new page or list
is walked without being named here: each answers the former owner without the customer's name or number, and the
customer's own pages answer 404.
"""

import itertools
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from fidelis.accounts.models import ApiScope, Role
from fidelis.accounts.permissions import role_has
from fidelis.accounts.services import api_token_create
from fidelis.customers.services import customer_create, customer_update
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from fidelis.pipeline.services import contract_create, opportunity_create
from fidelis.sales.services import category_save, order_create, product_save, store_save
from fidelis.work.services import task_create
from tests.factories import UserFactory
from tests.test_permission_matrix import PUBLIC, WEB, _api_operations

pytestmark = pytest.mark.django_db

NAME, NUMBER, PHONE = "欧阳转交", "ZQ7731", "13612345678"
# Routes that change the session rather than show anything.
SKIPPED = {"accounts:logout", "set_language"}
# What the former owner saw before the customer was given away (the walk below must reach each of them).
SHOWN_BEFORE_WEB = {"web:home", "web:dashboard", "work:tasks", "work:task_detail", "customers:list",
                    "customers:search", "customers:detail", "sales:orders", "sales:order_detail",
                    "pipeline:opportunities", "pipeline:opportunity_detail", "pipeline:board", "pipeline:contracts",
                    "pipeline:contract_detail", "loyalty:members", "loyalty:member_detail"}
SHOWN_BEFORE_API = {"GET /customers", "GET /customers/{public_id}", "GET /sales/orders", "GET /sales/orders/{number}",
                    "GET /sales/opportunities", "GET /sales/opportunities/{public_id}", "GET /sales/contracts",
                    "GET /sales/contracts/{public_id}", "GET /work/tasks", "GET /work/tasks/{public_id}",
                    "GET /loyalty/members", "GET /loyalty/members/{number}"}


@pytest.fixture
def book(manager, sales):
    """The rep's customer with a task due soon, an order, an open opportunity, a contract and a club membership."""
    store_save(actor=manager, data={"code": "1F-01", "name": "悦享咖啡"})
    product_save(actor=manager, data={"sku": "CF-001", "name": "美式咖啡", "list_price": Decimal("28.00"),
                                      "category": category_save(actor=manager, data={"name": "咖啡"})})
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = customer_create(actor=manager, data={"name": NAME, "number": NUMBER, "phone": PHONE}, owner=sales)
    task = task_create(actor=sales, title="回访", due_at=timezone.now() + timedelta(hours=1), customer=customer)
    order = order_create(actor=sales, customer=customer, lines=[{"sku": "CF-001", "quantity": 1}], channel="store",
                         store="1F-01", payment_method="cash")
    opportunity = opportunity_create(actor=sales, customer=customer, title="婚庆金饰", expected_amount="20000")
    contract = contract_create(actor=sales, customer=customer, number="HT-V1", amount="100",
                               start_date="2026-01-01", end_date="2026-12-31")
    member, _created = member_enrol(actor=sales, program=program, customer=customer, channel="store")
    return {"customer": customer, "task": task, "order": order, "opportunity": opportunity, "contract": contract,
            "member": member, "program": program}


def _shows(body: bytes, searched: str = "") -> bool:
    """Return whether the answer names the customer (by the name or the number it was not searched by: a search
    box shows back what was typed into it)."""
    text = body.decode("utf-8", "replace")
    needles = {NAME, NUMBER, json.dumps(NAME).strip('"')} - {searched, json.dumps(searched).strip('"')}
    return any(needle in text for needle in needles)


def _patterns(resolver=None, namespace=""):
    """Yield (name, URL pattern) for every named route (as the permission matrix walks them)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _patterns(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def _searched(search: dict[str, str]) -> str:
    return next(iter(search.values()), "")


def _web_requests(book):
    """Yield (route name, URL, searched text) for every page a sales rep may open, each with every object of the
    book that fits its URL, and each list with the customer's name, number, phone and id as its search."""
    public_ids = [obj.public_id for obj in book.values()]
    candidates = {"public_id": public_ids, "program": [book["program"].public_id],
                  "pk": [obj.pk for obj in book.values()], "tag_id": [1], "kind": ["qr"]}
    searches = [{}, {"q": NAME}, {"q": NUMBER}, {"q": PHONE}, {"customer": book["customer"].public_id}]
    for name, pattern in _patterns():
        if name.startswith("api:") or name in SKIPPED or WEB.get(name) == PUBLIC:
            continue
        if not role_has(Role.SALES, WEB[name]):
            continue  # answers 403 (the permission matrix checks it)
        keys = sorted(pattern.pattern.converters)
        if not keys:
            for search in searches:
                yield name, reverse(name) + (f"?{urlencode(search)}" if search else ""), _searched(search)
            continue
        for values in itertools.product(*(candidates[key] for key in keys)):
            yield name, reverse(name, kwargs=dict(zip(keys, values, strict=True))), ""


def _api_requests(book):
    """Yield (operation, URL, searched text) for every GET of the API, its path filled with each object of the book
    that fits and its lists searched by the customer's name, number, phone and id."""
    customer = book["customer"]
    candidates = {"public_id": [obj.public_id for obj in book.values()],
                  "number": [customer.number, book["order"].order_no, book["member"].number]}
    searches = [{}, {"q": NAME}, {"q": NUMBER}, {"q": PHONE}, {"customer": customer.public_id},
                {"phone": PHONE}, {"number": book["member"].number}, {"customer_number": NUMBER}]
    for key, _view in _api_operations():
        method, path = key.split(" ", 1)
        if method != "GET":
            continue
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        for values in itertools.product(*(candidates.get(n, ["0"]) for n in names)):
            url = "/api" + path.format(**dict(zip(names, values, strict=True)))
            for search in searches if not names else [{}]:
                yield key, url + (f"?{urlencode(search)}" if search else ""), _searched(search)


def _walk(web: Client, api: Client, auth: dict, book) -> tuple[set[str], set[str], list]:
    """Return the routes and API operations whose answer shows the customer, and any server error."""
    shown_web, shown_api, errors = set(), set(), []
    for name, url, searched in _web_requests(book):
        response = web.get(url)
        if response.status_code >= 500:
            errors.append((url, response.status_code))
        if _shows(response.content, searched):
            shown_web.add(f"{name} {url}")
    for key, url, searched in _api_requests(book):
        response = api.get(url, **auth)
        if response.status_code >= 500:
            errors.append((url, response.status_code))
        if _shows(response.content, searched):
            shown_api.add(f"{key} {url}")
    return shown_web, shown_api, errors


def test_a_customer_given_to_another_rep_leaves_every_page_and_api_list_of_the_former_owner(manager, sales, book):
    # given: the rep sees the customer everywhere, on the web and through the API
    web = Client()
    web.force_login(sales)
    _token, raw = api_token_create(actor=manager, user=sales, name="reassign", scopes=list(ApiScope.values))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    api = Client()
    shown_web, shown_api, errors = _walk(web, api, auth, book)
    assert errors == []
    assert {shown.split(" ")[0] for shown in shown_web} >= SHOWN_BEFORE_WEB
    assert {shown.rsplit(" ", 1)[0] for shown in shown_api} >= SHOWN_BEFORE_API
    # when: the manager gives the customer to another rep
    customer = book["customer"]
    customer_update(actor=manager, customer=customer, data={"owner": UserFactory(username="sales2",
                                                                                  role=Role.SALES)})
    # then: no page or API answer of the former owner shows the customer's name or number
    shown_web, shown_api, errors = _walk(web, api, auth, book)
    assert errors == []
    assert shown_web == set()
    assert shown_api == set()
    # and the customer's own pages answer 404
    assert web.get(reverse("customers:detail", args=[customer.public_id])).status_code == 404
    assert api.get(f"/api/customers/{customer.public_id}", **auth).status_code == 404
    assert api.get(f"/api/customers/{customer.public_id}/events", **auth).status_code == 404
    # the rows themselves stay as they were: the task, the opportunity and the contract are still the rep's
    for kind in ("task", "opportunity", "contract"):
        row = book[kind]
        row.refresh_from_db()
        assert row.owner == sales, kind

"""Every route × every role: the expected allow / deny. A route without a rule here fails the suite."""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fidelis.accounts.models import ApiToken, Role
from fidelis.accounts.permissions import CAPABILITIES
from fidelis.accounts.services import api_token_create
from fidelis.config.api import api
from fidelis.customers.services import customer_create
from tests.feedback import matrix as feedback_matrix
from tests.pipeline import matrix as pipeline_matrix
from tests.sales import matrix as sales_matrix
from tests.work import matrix as work_matrix

# Apps that keep their rows in tests/<app>/matrix.py (WEB, POSTS, API, BODIES, sample_kwargs).
APP_MATRICES = [sales_matrix, pipeline_matrix, work_matrix, feedback_matrix]

PUBLIC = "public"
# Web routes: url name → the capability its view requires (PUBLIC: no login needed).
WEB = {
    "set_language": PUBLIC,
    "web:healthz": PUBLIC,
    "web:favicon": PUBLIC,
    "web:home": "customer.view",
    "web:dashboard": "customer.view",
    "accounts:login": PUBLIC,
    "accounts:logout": PUBLIC,
    "accounts:users": "user.manage",
    "accounts:user_edit": "user.manage",
    "accounts:tokens": "token.manage",
    "accounts:token_revoke": "token.manage",
    "accounts:audit": "audit.view",
    "customers:list": "customer.view",
    "customers:search": "customer.view",
    "customers:create": "customer.add",
    "customers:export": "customer.export",
    "customers:import_start": "customer.import",
    "customers:import_detail": "customer.import",
    "customers:duplicates": "customer.merge",
    "customers:duplicate_review": "customer.merge",
    "customers:merge_detail": "customer.merge",
    "customers:cleanup": "customer.cleanup",
    "customers:cleanup_tile": "customer.cleanup",
    "customers:restore": "customer.cleanup",
    "customers:detail": "customer.view",
    "customers:edit": "customer.change",
    "customers:tag_add": "customer.change",
    "customers:tag_remove": "customer.change",
    "customers:consent": "customer.consent",
    "customers:contact_add": "customer.change",
    "customers:timeline": "customer.view",
    "customers:panels": "customer.view",
    "customers:person_export": "customer.privacy",
    "customers:person_erase": "customer.privacy",
    "events:webhooks": "webhook.manage",
    "events:webhook_edit": "webhook.manage",
    "events:webhook_deactivate": "webhook.manage",
    "events:webhook_test": "webhook.manage",
    "events:webhook_delivery_retry": "webhook.manage",
    "loyalty:program": "loyalty.view",
    "loyalty:program_backfill": "loyalty.adjust",
    "loyalty:members": "loyalty.view",
    "loyalty:member_enrol": "loyalty.operate",
    "loyalty:member_detail": "loyalty.view",
    "loyalty:member_entries": "loyalty.view",
    "loyalty:member_card": "loyalty.view",
    "loyalty:member_card_symbol": "loyalty.view",
    "loyalty:member_adjust": "loyalty.adjust",
    "loyalty:member_redeem": "loyalty.operate",
    "loyalty:member_coupon_issue": "loyalty.design",
    "loyalty:design_program_create": "loyalty.design",
    "loyalty:design_program_edit": "loyalty.design",
    "loyalty:design_tiers": "loyalty.design",
    "loyalty:design_tier_create": "loyalty.design",
    "loyalty:design_tier_edit": "loyalty.design",
    "loyalty:design_rules": "loyalty.design",
    "loyalty:design_rule_create": "loyalty.design",
    "loyalty:design_rule_from_template": "loyalty.design",
    "loyalty:design_rule_row": "loyalty.design",
    "loyalty:design_rule_preview": "loyalty.design",
    "loyalty:design_rule_edit": "loyalty.design",
    "loyalty:design_rule_status": "loyalty.design",
    "loyalty:design_rule_delete": "loyalty.design",
    "loyalty:design_coupons": "loyalty.design",
    "loyalty:design_coupon_create": "loyalty.design",
    "loyalty:design_coupon_edit": "loyalty.design",
    "loyalty:design_rewards": "loyalty.design",
    "loyalty:design_reward_create": "loyalty.design",
    "loyalty:design_reward_edit": "loyalty.design",
}
# Routes answered with POST in the role walk below.
POSTS = {"loyalty:member_enrol", "loyalty:member_adjust", "loyalty:member_redeem",
                 "loyalty:member_coupon_issue", "loyalty:program_backfill"}
# API operations: "METHOD /path" → (scope, capability); None: any signed-in caller.
API = {
    "GET /me": None,
    "GET /customers": ("customers:read", "customer.view"),
    "POST /customers": ("customers:write", "customer.add"),
    "GET /customers/{public_id}": ("customers:read", "customer.view"),
    "PATCH /customers/{public_id}": ("customers:write", "customer.change"),
    "POST /customers/{public_id}/tags": ("customers:write", "customer.change"),
    "DELETE /customers/{public_id}/tags/{tag_name}": ("customers:write", "customer.change"),
    "PUT /customers/{public_id}/consent/{channel}": ("customers:write", "customer.consent"),
    "GET /customers/{public_id}/events": ("customers:read", "customer.view"),
    "POST /events": ("events:write", "event.add"),
    "GET /loyalty/members": ("loyalty:read", "loyalty.view"),
    "POST /loyalty/members": ("loyalty:write", "loyalty.operate"),
    "GET /loyalty/members/{number}": ("loyalty:read", "loyalty.view"),
    "GET /loyalty/members/{number}/entries": ("loyalty:read", "loyalty.view"),
    "GET /loyalty/members/{number}/card.svg": ("loyalty:read", "loyalty.view"),
    "POST /loyalty/members/{number}/adjust": ("loyalty:write", "loyalty.adjust"),
    "POST /loyalty/members/{number}/pay": ("loyalty:write", "loyalty.operate"),
    "POST /loyalty/members/{number}/redeem": ("loyalty:write", "loyalty.operate"),
    "GET /loyalty/rewards": ("loyalty:read", "loyalty.view"),
    "POST /loyalty/orders": ("events:write", "order.add"),
    "POST /loyalty/refunds": ("events:write", "order.refund"),
    "POST /loyalty/coupons/check": ("loyalty:read", "loyalty.view"),
    "POST /loyalty/coupons/redeem": ("loyalty:write", "loyalty.operate"),
    "POST /loyalty/coupons/{code}/reverse": ("loyalty:write", "loyalty.adjust"),
}
for _matrix in APP_MATRICES:
    WEB.update(_matrix.WEB)
    POSTS |= _matrix.POSTS
    API.update(_matrix.API)
API_DOCS = {"api:openapi-json", "api:openapi-view"}


def _web_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _web_patterns(entry, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry.callback


def _api_operations():
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    yield f"{method} {prefix}{path}", operation.view_func


def test_every_web_route_has_a_rule_and_its_view_requires_that_capability():
    seen = {}
    for name, callback in _web_patterns():
        if name.startswith("api:"):
            continue
        assert name in WEB, f"route {name} has no rule in the permission matrix"
        seen[name] = getattr(callback, "required_capability", PUBLIC)
    assert seen == {name: WEB[name] for name in seen}
    assert set(WEB) <= set(seen), f"rules for routes that no longer exist: {set(WEB) - set(seen)}"


def test_every_api_operation_has_a_rule_and_checks_it():
    seen = {}
    for key, view in _api_operations():
        assert key in API, f"API operation {key} has no rule in the permission matrix"
        scope, capability = getattr(view, "required_scope", None), getattr(view, "required_capability", None)
        seen[key] = (scope, capability) if scope else None
    assert seen == API
    api_names = {name for name, _cb in _web_patterns() if name.startswith("api:")}
    assert api_names - API_DOCS, "the API routes are mounted"


@pytest.fixture
def open_customer(manager):
    """A customer without owner: visible to every role, so only the capability decides."""
    return customer_create(actor=manager, data={"name": "矩阵测试", "phone": "13700137000"})


def _sample_url(name, customer, manager):
    kwargs = {}
    if name.startswith("customers:") and name not in ("customers:list", "customers:search", "customers:create",
                                                      "customers:export", "customers:import_start",
                                                      "customers:duplicates", "customers:cleanup",
                                                      "customers:cleanup_tile"):
        kwargs["public_id"] = customer.public_id
    if name in ("customers:duplicate_review", "customers:merge_detail", "accounts:user_edit",
                "accounts:token_revoke"):
        kwargs = {"pk": manager.pk}
    if name == "customers:tag_remove":
        kwargs["tag_id"] = 1
    if name.startswith("events:webhook_"):
        kwargs = {"public_id": "0" * 16}
    if name.startswith("loyalty:member_"):
        kwargs = {"public_id": customer.public_id}  # a customer id: the member routes answer 404, not 403
        if name == "loyalty:member_card_symbol":
            kwargs["kind"] = "qr"
    if name == "loyalty:program_backfill":
        kwargs = {"public_id": "0" * 16}  # no such program: 404 for the roles allowed, not 403
    if name.startswith("loyalty:design_") and name != "loyalty:design_program_create":
        # No such program, rule, coupon or reward: the design routes answer 404 (405 for POST-only ones), not 403.
        kwargs = {"public_id": "0" * 16} if name.endswith(("rule_edit", "rule_status", "rule_delete", "coupon_edit",
                                                                "reward_edit")) \
            else {"program": "0" * 16, **({"pk": 1} if name == "loyalty:design_tier_edit" else {})}
    for matrix in APP_MATRICES:
        app_kwargs = matrix.sample_kwargs(name, customer, manager)
        if app_kwargs is not None:
            kwargs = app_kwargs
    return reverse(name, kwargs=kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*Role.values, "anonymous"])
def test_web_routes_answer_each_role_as_the_matrix_says(client, users, manager, open_customer, role):
    if role != "anonymous":
        client.force_login(users[role])
    for name, capability in WEB.items():
        if capability == PUBLIC or name == "accounts:logout":
            continue
        url = _sample_url(name, open_customer, manager)
        response = client.post(url) if name in ("customers:tag_add", "customers:tag_remove", "customers:consent",
                                                "customers:contact_add", "accounts:token_revoke", *POSTS) \
            else client.get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], (name, url)
        elif role in CAPABILITIES[capability]:
            assert response.status_code not in (401, 403, 500, 501), (role, name, response.status_code)
        else:
            assert response.status_code == 403, (role, name, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("role", Role.values)
def test_api_routes_answer_each_role_as_the_matrix_says(client, users, open_customer, role):
    _token, raw = api_token_create(actor=users[Role.MANAGER], user=users[role], name="matrix",
                                   scopes=["customers:read", "customers:write", "events:write", "loyalty:read",
                                           "loyalty:write", "sales:read", "sales:write", "work:read", "work:write",
                                           "feedback:read", "feedback:write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    bodies = {"POST /customers": {"name": "矩阵"}, "POST /customers/{public_id}/tags": {"tag": "x"},
              "PUT /customers/{public_id}/consent/{channel}": {"granted": True, "source": "门店"},
              "POST /events": {"customer": open_customer.public_id, "type": "note.added"},
              "POST /loyalty/members": {"phone": "13700137000"},
              "POST /loyalty/members/{number}/adjust": {"points": 10, "reason": "矩阵"},
              "POST /loyalty/members/{number}/pay": {"points": 1, "order_no": "O1"},
              "POST /loyalty/members/{number}/redeem": {"reward": "x"},
              "POST /loyalty/orders": {"member": "M00000001", "order_no": "O1", "amount": "10"},
              "POST /loyalty/refunds": {"member": "M00000001", "order_no": "O1", "amount": "10"},
              "POST /loyalty/coupons/check": {"code": "ABCDEFGH"},
              "POST /loyalty/coupons/redeem": {"code": "ABCDEFGH", "order_no": "O1"}}
    for matrix in APP_MATRICES:
        bodies.update(matrix.BODIES)
    for key, rule in API.items():
        method, path = key.split(" ", 1)
        url = "/api" + path.format(public_id=open_customer.public_id, tag_name="x", channel="sms", number="M00000001",
                                  code="ABCDEFGH", pipeline_id="0", stage_id="0")
        response = client.generic(method, url, data=json.dumps(bodies.get(key, {})),
                                  content_type="application/json", **auth)
        if rule is None or role in CAPABILITIES[rule[1]]:
            assert response.status_code not in (401, 403, 500), (role, key, response.status_code)
        else:
            assert response.status_code == 403, (role, key, response.status_code)
    assert client.get("/api/customers").status_code == 401
    assert ApiToken.objects.filter(user=users[role]).count() == 1

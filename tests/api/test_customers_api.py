import pytest

from fidelis.accounts.models import AuditEntry, Role
from fidelis.accounts.services import api_token_create
from fidelis.customers.models import Consent, Customer, CustomerTag, DuplicateCandidate, Tag
from fidelis.events.models import Event
from tests.factories import CustomerFactory, UserFactory

SCOPES = ["customers:read", "customers:write", "events:write"]


@pytest.fixture
def api(client, manager):
    """Return a caller of the API with a bearer token of the given user (the manager by default)."""

    def _call(method, path, body=None, *, user=None, scopes=SCOPES, **extra):
        _token, raw = api_token_create(actor=manager, user=user or manager, name="test", scopes=scopes)
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}", **extra}
        if body is not None:
            kwargs |= {"data": body, "content_type": "application/json"}
        return getattr(client, method)(path, **kwargs)

    return _call


@pytest.mark.django_db
def test_customer_create_saves_fields_tags_owner_and_audit(api, sales):
    # when
    response = api("post", "/api/customers", {
        "name": "王小明", "phone": "139 1234 5678", "birthday": "1990-05-01", "category": "key",
        "tags": ["VIP", "宠物:柯基"], "owner": "sales",
    })
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "+8613912345678"
    assert sorted(body["tags"]) == ["VIP", "宠物:柯基"]
    assert body["owner"] == "sales"
    customer = Customer.objects.get(public_id=body["public_id"])
    assert customer.number.startswith("C")
    assert customer.birthday.isoformat() == "1990-05-01"
    assert customer.owner == sales
    assert customer.name_initials == "wxm"
    assert AuditEntry.objects.filter(action="customer.create", object_id=customer.public_id, via="api").exists()
    assert Event.objects.filter(customer=customer, type="customer.created", channel="api").exists()


@pytest.mark.django_db
def test_customer_create_unknown_field_is_422_naming_it(api):
    response = api("post", "/api/customers", {"name": "张三", "shoe_size": 42})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == "shoe_size"
    assert response.json()["message"]
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"name": 123}, "name"),
    ({"name": "张三", "birthday": "not a date"}, "birthday"),
    ({"name": "张三", "tags": "VIP"}, "tags"),
    ({"phone": "13912345678"}, "name"),
])
def test_customer_create_wrong_type_is_422_naming_the_field(api, body, field):
    response = api("post", "/api/customers", body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["errors"][0]["field"] == field
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_customer_create_bad_json_is_4xx_not_500(api):
    response = api("post", "/api/customers", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body, field, code", [
    ({"name": "张三", "phone": "12345"}, "phone", "invalid_phone"),
    ({"name": "张三", "category": "gold"}, "category", "invalid_choice"),
    ({"name": "张三", "email": "nope"}, "email", "invalid"),
    ({"name": "张三", "owner": "nobody"}, "owner", "unknown_user"),
])
def test_customer_create_bad_value_is_400_naming_the_field(api, body, field, code):
    response = api("post", "/api/customers", body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["code"] == code
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_customer_create_duplicate_number_is_refused(api):
    CustomerFactory(number="C00000042")
    response = api("post", "/api/customers", {"name": "张三", "number": "c00000042"})
    assert response.status_code == 400
    assert response.json()["field"] == "number"
    assert response.json()["code"] == "duplicate_number"
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_customer_detail_has_tags_consents_and_contacts(api):
    customer = CustomerFactory(name="张三")
    api("put", f"/api/customers/{customer.public_id}/consent/sms", {"granted": True, "source": "门店"})
    api("post", f"/api/customers/{customer.public_id}/tags", {"tag": "VIP"})
    response = api("get", f"/api/customers/{customer.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "张三"
    assert body["tags"] == ["VIP"]
    assert body["consents"][0] | {"recorded_at": None} == {"channel": "sms", "granted": True, "source": "门店",
                                                           "recorded_at": None}
    assert body["contacts"] == []


@pytest.mark.django_db
def test_customer_detail_unknown_id_is_404_json(api):
    response = api("get", "/api/customers/doesnotexist")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_sales_token_cannot_see_or_change_another_reps_customer(api, users):
    # given a customer of another sales rep
    other = users[Role.MARKETING]
    customer = CustomerFactory(owner=other, name="李四")
    sales = users[Role.SALES]
    path = f"/api/customers/{customer.public_id}"
    # when / then: every route answers 404, as if it did not exist
    assert api("get", path, user=sales).status_code == 404
    assert api("patch", path, {"name": "改名"}, user=sales).status_code == 404
    assert api("post", f"{path}/tags", {"tag": "x"}, user=sales).status_code == 404
    assert api("put", f"{path}/consent/sms", {"granted": True, "source": "x"}, user=sales).status_code == 404
    assert api("get", f"{path}/events", user=sales).status_code == 404
    assert api("get", "/api/customers?q=李四", user=sales).json()["count"] == 0
    customer.refresh_from_db()
    assert customer.name == "李四"
    assert not CustomerTag.objects.exists()
    assert not Consent.objects.exists()


@pytest.mark.django_db
def test_customer_patch_changes_only_given_fields(api):
    customer = CustomerFactory(name="张三", city="上海", email="a@example.com")
    response = api("patch", f"/api/customers/{customer.public_id}", {"city": "杭州", "email": None})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.city, customer.email) == ("张三", "杭州", "")
    assert Event.objects.filter(customer=customer, type="customer.updated").count() == 1


@pytest.mark.django_db
def test_customer_patch_unknown_field_or_null_name_is_refused(api):
    customer = CustomerFactory(name="张三")
    response = api("patch", f"/api/customers/{customer.public_id}", {"nickname": "三"})
    assert response.status_code == 422
    assert response.json()["field"] == "nickname"
    response = api("patch", f"/api/customers/{customer.public_id}", {"name": None})
    assert response.status_code == 400
    assert response.json()["field"] == "name"
    customer.refresh_from_db()
    assert customer.name == "张三"


@pytest.mark.django_db
def test_customer_patch_by_readonly_token_is_403(api, users):
    customer = CustomerFactory(name="张三")
    response = api("patch", f"/api/customers/{customer.public_id}", {"city": "杭州"}, user=users[Role.READONLY])
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.city == ""


@pytest.mark.django_db
def test_customer_list_searches_by_pinyin_initials_and_phone_formats(api):
    wang = CustomerFactory(name="王小明", phone="13912345678")
    CustomerFactory(name="李四", phone="13800001111")
    for q in ("wxm", "wangxiaoming", "王小", "13912345678", "139 1234 5678", "+86 139-1234-5678", "5678"):
        response = api("get", "/api/customers", data={"q": q})
        assert response.status_code == 200
        assert [c["public_id"] for c in response.json()["items"]] == [wang.public_id], q


@pytest.mark.django_db
def test_customer_list_filters_and_pages(api):
    key = [CustomerFactory(category="key") for _ in range(3)]
    CustomerFactory(category="basic")
    api("post", f"/api/customers/{key[0].public_id}/tags", {"tag": "VIP"})
    response = api("get", "/api/customers", data={"category": "key", "limit": 2})
    assert response.json()["count"] == 3
    assert len(response.json()["items"]) == 2
    response = api("get", "/api/customers", data={"category": "key", "limit": 2, "offset": 2})
    assert len(response.json()["items"]) == 1
    response = api("get", "/api/customers", data={"tag": "VIP"})
    assert [c["public_id"] for c in response.json()["items"]] == [key[0].public_id]
    assert response.json()["items"][0]["tags"] == ["VIP"]


@pytest.mark.django_db
def test_customer_list_wrong_typed_query_is_422(api):
    response = api("get", "/api/customers", data={"limit": "many"})
    assert response.status_code == 422
    assert response.json()["field"] == "limit"


@pytest.mark.django_db
def test_customer_tags_add_and_remove(api):
    customer = CustomerFactory()
    response = api("post", f"/api/customers/{customer.public_id}/tags", {"tag": "宠物:柯基"})
    assert response.status_code == 200
    assert response.json()["tags"] == ["宠物:柯基"]
    assert Tag.objects.get(name="柯基").group == "宠物"
    response = api("delete", f"/api/customers/{customer.public_id}/tags/柯基")
    assert response.status_code == 204
    assert not CustomerTag.objects.filter(customer=customer).exists()
    assert Event.objects.filter(customer=customer, type="tag.removed").count() == 1
    response = api("delete", f"/api/customers/{customer.public_id}/tags/柯基")
    assert response.status_code == 404


@pytest.mark.django_db
def test_customer_tag_too_long_is_refused(api):
    customer = CustomerFactory()
    response = api("post", f"/api/customers/{customer.public_id}/tags", {"tag": "x" * 41})
    assert response.status_code == 400
    assert response.json()["field"] == "tags"
    assert not Tag.objects.exists()


@pytest.mark.django_db
def test_customer_consent_put_records_and_withdraws(api):
    customer = CustomerFactory()
    path = f"/api/customers/{customer.public_id}/consent/wechat"
    response = api("put", path, {"granted": True, "source": "公众号"})
    assert response.status_code == 200
    assert response.json()["granted"] is True
    api("put", path, {"granted": False, "source": "客服电话"})
    consent = Consent.objects.get(customer=customer, channel="wechat")
    assert (consent.granted, consent.source) == (False, "客服电话")
    assert list(Event.objects.filter(customer=customer, type__startswith="consent.")
                .order_by("id").values_list("type", flat=True)) == ["consent.granted", "consent.withdrawn"]


@pytest.mark.django_db
def test_customer_consent_unknown_channel_or_bad_body_is_refused(api):
    customer = CustomerFactory()
    response = api("put", f"/api/customers/{customer.public_id}/consent/fax", {"granted": True, "source": "x"})
    assert response.status_code == 400
    assert response.json()["field"] == "channel"
    response = api("put", f"/api/customers/{customer.public_id}/consent/sms", {"granted": "maybe", "source": "x"})
    assert response.status_code == 422
    assert response.json()["field"] == "granted"
    assert not Consent.objects.exists()


@pytest.mark.django_db
def test_customer_events_timeline_pages_newest_first(api):
    customer = CustomerFactory()
    for n in range(5):
        api("post", "/api/events", {"customer": customer.public_id, "type": "store.visited", "summary": f"v{n}",
                                    "occurred_at": f"2024-01-0{n + 1}T10:00:00+08:00"})
    response = api("get", f"/api/customers/{customer.public_id}/events", data={"limit": 3})
    assert response.status_code == 200
    first = response.json()
    assert [e["summary"] for e in first["items"]] == ["v4", "v3", "v2"]
    response = api("get", f"/api/customers/{customer.public_id}/events",
                   data={"limit": 3, "before": first["next_before"]})
    assert [e["summary"] for e in response.json()["items"]] == ["v1", "v0"]
    assert response.json()["next_before"] is None


# --- changes of the WeChat id ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_customer_patch_of_the_wechat_id_is_saved_and_audited(api):
    # given
    customer = CustomerFactory(name="张三", wechat_id="old_wx")
    # when
    response = api("patch", f"/api/customers/{customer.public_id}", {"wechat_id": "zhangsan_wx"})
    # then
    assert response.status_code == 200, response.content
    assert response.json()["wechat_id"] == "zhangsan_wx"
    customer.refresh_from_db()
    assert customer.wechat_id == "zhangsan_wx"
    assert AuditEntry.objects.get(action="customer.update", via="api").changes == {
        "wechat_id": ["old_wx", "zhangsan_wx"]}
    # and cleared with null
    assert api("patch", f"/api/customers/{customer.public_id}", {"wechat_id": None}).status_code == 200
    customer.refresh_from_db()
    assert customer.wechat_id == ""


# --- a write that commits answers with what it wrote -----------------------------------------------------------

@pytest.mark.django_db
def test_customer_create_by_sales_rep_for_another_rep_answers_201_with_the_customer(api, users):
    # given
    rep, colleague = users[Role.SALES], UserFactory(username="li", role=Role.SALES, display_name="李经理")
    body = {"name": "赵六", "phone": "13800138000", "owner": "li"}
    # when
    response = api("post", "/api/customers", body, user=rep)
    # then: the answer is the customer as written, once in the database and once in the audit log
    assert response.status_code == 201, response.content
    assert response.json()["owner"] == "li" and response.json()["name"] == "赵六"
    customer = Customer.objects.get()
    assert customer.public_id == response.json()["public_id"] and customer.owner == colleague
    assert AuditEntry.objects.filter(action="customer.create", object_id=customer.public_id, actor=rep,
                                     via="api").count() == 1
    # and the rep no longer sees it
    assert api("get", f"/api/customers/{customer.public_id}", user=rep).status_code == 404
    # when the client retries the same request, nothing is created twice: the phone is known, and the answer
    # says whom to ask without showing the record
    retry = api("post", "/api/customers", body, user=rep)
    assert retry.status_code == 409
    assert retry.json()["code"] == "duplicate_customer" and retry.json()["owner"] == "李经理"
    assert "existing" not in retry.json()
    assert Customer.objects.count() == 1
    assert AuditEntry.objects.filter(action="customer.create").count() == 1


@pytest.mark.django_db
def test_customer_patch_giving_the_customer_to_another_rep_answers_200_with_the_customer(api, users):
    # given: a customer of the rep
    rep, colleague = users[Role.SALES], UserFactory(username="li", role=Role.SALES)
    customer = CustomerFactory(name="赵六", owner=rep)
    # when
    response = api("patch", f"/api/customers/{customer.public_id}", {"owner": "li", "city": "杭州"}, user=rep)
    # then
    assert response.status_code == 200, response.content
    assert response.json()["owner"] == "li" and response.json()["city"] == "杭州"
    customer.refresh_from_db()
    assert customer.owner == colleague and customer.city == "杭州"
    entry = AuditEntry.objects.get(action="customer.update", object_id=customer.public_id)
    assert entry.actor == rep and entry.changes["owner_id"] == [rep.pk, colleague.pk]
    # and a retry is refused as it would be for any customer the rep does not see, changing nothing
    assert api("patch", f"/api/customers/{customer.public_id}", {"owner": "li"}, user=rep).status_code == 404
    assert AuditEntry.objects.filter(action="customer.update").count() == 1


# --- duplicates on create --------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"phone": "+86 138-0013-8000"}, "phone"),
    ({"email": "ZS@example.cn"}, "email"),
])
def test_customer_create_with_a_known_phone_or_email_is_409_naming_the_customer(api, body, field):
    # given
    stored = CustomerFactory(name="张三", phone="+8613800138000", email="zs@example.cn")
    # when
    response = api("post", "/api/customers", {"name": "张小三", **body})
    # then
    assert response.status_code == 409
    answer = response.json()
    assert answer["code"] == "duplicate_customer" and answer["field"] == field and answer["message"]
    assert answer["existing"] == {"public_id": stored.public_id, "number": stored.number, "name": "张三"}
    assert Customer.objects.count() == 1
    assert not AuditEntry.objects.filter(action="customer.create").exists()


@pytest.mark.django_db
def test_customer_create_with_allow_duplicate_creates_the_second_record(api):
    stored = CustomerFactory(name="张三", phone="+8613800138000")
    response = api("post", "/api/customers", {"name": "张三", "phone": "13800138000", "allow_duplicate": True})
    assert response.status_code == 201, response.content
    twin = Customer.objects.get(public_id=response.json()["public_id"])
    assert "allow_duplicate" not in response.json()
    assert AuditEntry.objects.get(action="customer.create", object_id=twin.public_id).changes["duplicate_of"] == [
        None, stored.number]
    assert DuplicateCandidate.objects.filter(customer=stored, other=twin).exists()


@pytest.mark.django_db
def test_customer_create_by_sales_rep_with_phone_of_a_hidden_customer_names_only_its_owner(api, users):
    colleague = UserFactory(username="li", role=Role.SALES, display_name="李经理")
    theirs = CustomerFactory(name="赵六", phone="+8613800138000", owner=colleague)
    response = api("post", "/api/customers", {"name": "小赵", "phone": "13800138000"}, user=users[Role.SALES])
    assert response.status_code == 409
    assert response.json()["owner"] == "李经理" and "existing" not in response.json()
    assert "赵六" not in response.content.decode() and theirs.public_id not in response.content.decode()
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_customer_create_duplicate_answer_is_documented(client):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/customers"]["post"]
    assert {"201", "409"} <= set(operation["responses"])
    assert "allow_duplicate" in str(client.get("/api/openapi.json").json()["components"])

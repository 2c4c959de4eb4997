import pytest
from django.urls import reverse

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.models import Consent, Customer
from fidelis.customers.services import customer_create
from fidelis.events.models import Event
from fidelis.events.services import record_event


@pytest.fixture
def zhang(manager):
    return customer_create(actor=manager, data={"name": "张三", "phone": "13800138000", "email": "zs@example.cn"},
                           tags=["宠物品种:泰迪"])


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
def test_customer_create_with_bad_phone_shows_error_and_writes_nothing(client_for, manager):
    response = client_for(manager).post(reverse("customers:create"), {
        "name": "李四", "phone": "12345", "kind": "individual", "category": "potential", "value_tier": "low",
        "lifecycle_stage": "interested"})
    assert response.status_code == 200
    assert "12345" in response.content.decode()
    assert not Customer.objects.filter(name="李四").exists()


@pytest.mark.django_db
def test_customer_create_by_sales_rep_makes_them_owner(client_for, sales):
    response = client_for(sales).post(reverse("customers:create"), {
        "name": "王小明", "phone": "+86 139-0013-9000", "kind": "individual", "category": "potential",
        "value_tier": "low", "lifecycle_stage": "interested", "owner": sales.pk})
    customer = Customer.objects.get(name="王小明")
    assert response.status_code == 302
    assert customer.owner == sales and customer.phone == "+8613900139000"
    assert AuditEntry.objects.filter(action="customer.create", object_id=customer.public_id).exists()


@pytest.mark.django_db
def test_customer_edit_saves_and_records_event(client_for, manager, zhang):
    url = reverse("customers:edit", args=[zhang.public_id])
    form = client_for(manager).get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"occupation": "宠物美容师", "owner": ""})
    response = client_for(manager).post(url, data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    zhang.refresh_from_db()
    assert zhang.occupation == "宠物美容师"
    assert Event.objects.filter(customer=zhang, type="customer.updated").exists()


@pytest.mark.django_db
def test_customer_detail_of_another_reps_customer_is_404_for_sales(client_for, users, manager):
    theirs = customer_create(actor=manager, data={"name": "赵六"}, owner=users[Role.MARKETING])
    response = client_for(users[Role.SALES]).get(reverse("customers:detail", args=[theirs.public_id]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_customer_detail_query_count_is_fixed(client_for, manager, zhang, django_assert_max_num_queries):
    for i in range(40):
        record_event(customer=zhang, type="store.visited", summary=f"visit {i}")
    client = client_for(manager)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("customers:detail", args=[zhang.public_id]))
    assert response.status_code == 200
    assert "泰迪" in response.content.decode()


@pytest.mark.django_db
def test_consent_set_through_htmx_returns_the_panel(client_for, manager, zhang):
    response = client_for(manager).post(reverse("customers:consent", args=[zhang.public_id]),
                                        {"channel": "sms", "granted": "1", "source": "门店登记"},
                                        HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="consent-panel"' in response.content.decode()
    consent = Consent.objects.get(customer=zhang, channel="sms")
    assert consent.granted and consent.source == "门店登记"


@pytest.mark.django_db
def test_tag_add_by_readonly_is_forbidden(client_for, users, zhang):
    response = client_for(users[Role.READONLY]).post(reverse("customers:tag_add", args=[zhang.public_id]),
                                                     {"tag": "VIP"})
    assert response.status_code == 403
    assert not zhang.tags.filter(name="VIP").exists()

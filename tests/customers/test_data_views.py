import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from fidelis.accounts.models import AuditEntry, Role
from fidelis.customers.models import Customer, DuplicateCandidate, DuplicateStatus, MergeRecord
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_import_pages_upload_validate_and_run(client_for, manager):
    client = client_for(manager)
    text = "姓名,手机\n张三,13800138000\n李四,bad\n"
    response = client.post(reverse("customers:import_start"),
                           {"file": SimpleUploadedFile("c.csv", text.encode())})
    assert response.status_code == 302
    detail = response["Location"]
    page = client.get(detail).content.decode()
    assert 'name="map-0"' in page and 'name="mode"' in page and 'value="validate"' in page
    response = client.post(detail, {"map-0": "name", "map-1": "phone", "mode": "skip", "action": "validate"})
    page = client.get(detail).content.decode()
    assert 'id="import-errors"' in page and 'value="run"' in page
    client.post(detail, {"action": "run"})
    page = client.get(detail).content.decode()
    assert Customer.objects.count() == 1 and reverse("customers:duplicates") in page


def test_import_start_shows_an_error_for_a_bad_file(client_for, manager):
    response = client_for(manager).post(reverse("customers:import_start"),
                                        {"file": SimpleUploadedFile("c.csv", b"name\n")})
    assert response.status_code == 400 and b'class="error"' in response.content


@pytest.mark.parametrize("name", ["customers:import_start", "customers:duplicates", "customers:export"])
def test_data_pages_answer_403_without_the_capability(client_for, sales, name):
    assert client_for(sales).get(reverse(name)).status_code == 403


def test_data_pages_redirect_anonymous_users_to_login(client):
    assert client.get(reverse("customers:import_start")).status_code == 302


def test_customer_export_streams_csv_and_xlsx(client_for, manager):
    CustomerFactory(name="@cmd")
    response = client_for(manager).get(reverse("customers:export"))
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeff") and "'@cmd" in text
    response = client_for(manager).get(reverse("customers:export") + "?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(row=2, column=3).value == "@cmd"  # a text cell: no formula, no quote


def test_duplicate_list_merges_into_the_chosen_record(client_for, manager):
    a = CustomerFactory(name="张三", phone="+8613800138000")
    b = CustomerFactory(name="张三", phone="+8613800138000", email="zs@example.com")
    candidate = DuplicateCandidate.objects.create(customer=a, other=b, reason="phone")
    client = client_for(manager)
    page = client.get(reverse("customers:duplicates")).content.decode()
    assert f'name="keep" value="{a.pk}"' in page and f'name="keep" value="{b.pk}"' in page
    response = client.post(reverse("customers:duplicate_review", args=[candidate.pk]),
                           {"keep": str(a.pk), "action": "merge"})
    record = MergeRecord.objects.get()
    assert response["Location"] == reverse("customers:merge_detail", args=[record.pk])
    b.refresh_from_db()
    a.refresh_from_db()
    assert b.merged_into_id == a.pk and a.email == "zs@example.com"
    candidate.refresh_from_db()
    assert candidate.status == DuplicateStatus.MERGED
    assert client.get(reverse("customers:merge_detail", args=[record.pk])).status_code == 200


def test_person_export_and_erase(client_for, manager):
    customer = CustomerFactory(name="张三", email="zs@example.com")
    client = client_for(manager)
    response = client.get(reverse("customers:person_export", args=[customer.public_id]))
    data = json.loads(response.content)
    assert "attachment" in response["Content-Disposition"] and "zs@example.com" in json.dumps(data)
    response = client.post(reverse("customers:person_erase", args=[customer.public_id]), {"reason": "request"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.email == ""


def test_person_pages_hide_customers_and_roles(client_for, manager, sales):
    other = CustomerFactory(owner=UserFactory(username="rep2", role="sales"))
    assert client_for(sales).get(reverse("customers:person_export", args=[other.public_id])).status_code == 403
    assert client_for(manager).get(reverse("customers:person_export", args=["nope"])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_duplicate_list_scan_finds_pairs_and_is_audited(client, users):
    # given two records with the same phone in different formats
    CustomerFactory(name="王芳", phone="138 0013 8000")
    CustomerFactory(name="王芳芳", phone="+86-13800138000")
    client.force_login(users[Role.MARKETING])
    # when a marketer starts a scan
    response = client.post(reverse("customers:duplicates"), {"action": "scan"})
    # then the pair awaits review and the scan is in the audit log
    assert response.status_code == 302
    assert DuplicateCandidate.objects.filter(reason="phone").count() == 1
    assert AuditEntry.objects.filter(action="customer.duplicates_scan").exists()

"""The list of order imports: who ran them, when, the file, mode, status and counts, a page at a time."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.core.imports_ui import PAGE_SIZE
from fidelis.sales.imports import order_import_create, order_import_run, order_import_validate
from fidelis.sales.models import OrderImport
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "订单号,客户编号,支付时间,商品编码,数量\n"


def upload(text: str, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def run(actor, text: str, name: str, mode: str) -> OrderImport:
    job = order_import_create(actor=actor, uploaded_file=upload(text, name))
    job = order_import_validate(actor=actor, job=job, mapping=job.mapping, mode=mode)
    return order_import_run(actor=actor, job=job)


def test_order_import_list_shows_each_job_with_who_ran_it_its_mode_status_and_counts(client_for, users, catalogue):
    # given: one import by the manager (one order of two lines, one bad row skipped), one failed by a marketer
    CustomerFactory(number="T-A")
    manager, marketer = users[Role.MANAGER], users[Role.MARKETING]
    done = run(manager, HEADER + "L-1,T-A,2025-03-08 10:00,CF-001,1\nL-1,T-A,2025-03-08 10:00,CF-002,1\n"
               "L-2,T-A,2025-03-08 10:00,NOPE,1\n", "三月.csv", "skip")
    failed = run(marketer, HEADER + "L-3,T-ZZ,2025-03-08 10:00,CF-001,1\n", "四月.csv", "all")
    assert (done.status, done.order_count, done.line_count, failed.status) == ("imported", 1, 2, "failed")
    # when
    response = client_for(marketer).get(reverse("sales:import_start"))
    # then: both, newest first, each linked to its page; the upload form on the same page
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="import-upload"' in page and 'name="file"' in page
    rows = page[page.index('id="import-list"'):].split("<tr>")[2:]
    assert len(rows) == 2
    assert "四月.csv" in rows[0] and "marketing" in rows[0] and "失败" in rows[0]
    assert "三月.csv" in rows[1] and "manager" in rows[1] and "已导入" in rows[1]
    assert "<td>1</td><td>2</td>" in rows[1]  # one order, two lines
    assert reverse("sales:import_detail", args=[done.public_id]) in rows[1]
    assert reverse("sales:import_detail", args=[failed.public_id]) in rows[0]


def test_order_import_list_is_paginated(client_for, manager):
    # given
    for i in range(PAGE_SIZE + 1):
        order_import_create(actor=manager, uploaded_file=upload(HEADER + "L-1,T-A,2025-03-08,CF-001,1\n", f"f{i:02d}.csv"))
    client = client_for(manager)
    # when
    first = client.get(reverse("sales:import_start")).content.decode()
    second = client.get(reverse("sales:import_start"), {"page": 2}).content.decode()
    # then
    assert first.count("<tr><td>") == PAGE_SIZE and "f25.csv" in first and "f00.csv" not in first
    assert second.count("<tr><td>") == 1 and "f00.csv" in second


def test_order_import_page_leads_back_to_the_list(client_for, manager):
    job = order_import_create(actor=manager, uploaded_file=upload(HEADER + "L-1,T-A,2025-03-08,CF-001,1\n", "a.csv"))
    page = client_for(manager).get(reverse("sales:import_detail", args=[job.public_id])).content.decode()
    assert f'href="{reverse("sales:import_start")}" id="import-back"' in page and "返回导入列表" in page


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.READONLY])
def test_order_import_pages_answer_403_without_the_import_capability(client_for, users, manager, role):
    # given
    job = order_import_create(actor=manager, uploaded_file=upload(HEADER + "L-1,T-A,2025-03-08,CF-001,1\n", "a.csv"))
    client = client_for(users[role])
    # when / then
    assert client.get(reverse("sales:import_start")).status_code == 403
    assert client.get(reverse("sales:import_detail", args=[job.public_id])).status_code == 403
    assert client.post(reverse("sales:import_detail", args=[job.public_id]), {"action": "run"}).status_code == 403
    assert OrderImport.objects.get().status == "uploaded"

"""The list of customer imports: who ran them, when, the file, mode, status and counts, a page at a time."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.core.imports_ui import PAGE_SIZE
from fidelis.customers.imports import import_job_create, import_job_run, import_job_validate
from fidelis.customers.models import ImportJob

pytestmark = pytest.mark.django_db


def upload(text: str, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def test_import_list_shows_each_job_with_who_ran_it_its_mode_status_and_counts(client_for, users):
    # given: one import run by the manager, one failed by a marketer
    manager, marketer = users[Role.MANAGER], users[Role.MARKETING]
    done = import_job_create(actor=manager, uploaded_file=upload("姓名,手机\n张三,13800138000\n李四,bad\n", "一月.csv"))
    done = import_job_validate(actor=manager, job=done, mapping=done.mapping, mode="skip")
    import_job_run(actor=manager, job=done)
    failed = import_job_create(actor=marketer, uploaded_file=upload("姓名,手机\n王五,bad\n", "二月.csv"))
    failed = import_job_validate(actor=marketer, job=failed, mapping=failed.mapping, mode="all")
    import_job_run(actor=marketer, job=failed)
    # when
    response = client_for(marketer).get(reverse("customers:import_start"))
    # then: both, newest first, each linked to its page with its report; the upload form on the same page
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="import-upload"' in page and 'name="file"' in page
    rows = page[page.index('id="import-list"'):].split("<tr>")[2:]
    assert len(rows) == 2
    assert "二月.csv" in rows[0] and "marketing" in rows[0] and "失败" in rows[0]
    assert "只要有错误行就全部不导入" in rows[0] and "导入正确的行，跳过错误行" in rows[1]
    assert "一月.csv" in rows[1] and "manager" in rows[1] and "已导入" in rows[1]
    assert "<td>1</td>" in rows[1]  # one created, one skipped
    assert reverse("customers:import_detail", args=[done.public_id]) in rows[1]
    assert reverse("customers:import_detail", args=[failed.public_id]) in rows[0]


def test_import_list_is_paginated(client_for, manager):
    # given
    for i in range(PAGE_SIZE + 2):
        import_job_create(actor=manager, uploaded_file=upload("姓名\n张三\n", f"f{i:02d}.csv"))
    client = client_for(manager)
    # when
    first = client.get(reverse("customers:import_start")).content.decode()
    second = client.get(reverse("customers:import_start"), {"page": 2}).content.decode()
    # then
    assert first.count('<tr><td>') == PAGE_SIZE and second.count('<tr><td>') == 2
    assert "f26.csv" in first and "f00.csv" not in first
    assert "f00.csv" in second and "f01.csv" in second and "f26.csv" not in second
    assert "?page=2" in first and "?page=1" in second


def test_import_detail_leads_back_to_the_list(client_for, manager):
    # given
    job = import_job_create(actor=manager, uploaded_file=upload("姓名\n张三\n", "a.csv"))
    # when
    page = client_for(manager).get(reverse("customers:import_detail", args=[job.public_id])).content.decode()
    # then
    assert f'href="{reverse("customers:import_start")}" id="import-back"' in page and "返回导入列表" in page


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.READONLY])
def test_import_list_and_job_pages_answer_403_without_the_import_capability(client_for, users, manager, role):
    # given
    job = import_job_create(actor=manager, uploaded_file=upload("姓名\n张三\n", "a.csv"))
    client = client_for(users[role])
    # when / then
    assert client.get(reverse("customers:import_start")).status_code == 403
    assert client.get(reverse("customers:import_detail", args=[job.public_id])).status_code == 403
    response = client.post(reverse("customers:import_detail", args=[job.public_id]), {"action": "run", "mode": "skip"})
    assert response.status_code == 403
    assert ImportJob.objects.get().status == "uploaded"

"""The tasks API: list with filters, create (idempotent), read, change, complete; ownership and scopes."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from fidelis.accounts.models import AuditEntry
from fidelis.accounts.services import api_token_create
from fidelis.work.models import Task, TaskStatus
from fidelis.work.services import task_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, manager):
    """Call the API as a user with a token of the given scopes."""

    def _call(user, method, path, body=None, scopes=("work:read", "work:write"), **headers):
        _token, raw = api_token_create(actor=manager, user=user, name="test", scopes=list(scopes))
        response = client.generic(method, "/api/work" + path, data=json.dumps(body) if body is not None else "",
                                  content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}", **headers)
        return response.status_code, response.json()

    return _call


def test_post_task_creates_it_for_a_customer_with_a_reminder(api, sales, my_customer):
    status, body = api(sales, "POST", "/tasks", {"title": "回访 李太太", "due_at": "2030-01-02T10:00:00+08:00",
                                                 "remind_before": 30, "customer": my_customer.number})
    assert status == 201 and body["created"] is True
    assert (body["owner"], body["customer"], body["status"]) == ("sales", my_customer.public_id, "open")
    assert body["remind_at"].startswith("2030-01-02T01:30:00")  # 09:30 in Shanghai, in UTC
    assert body["url"].endswith(f"/work/{body['id']}/")
    assert AuditEntry.objects.get(action="task.create").via == "api"


def test_the_same_idempotency_key_creates_one_task(api, sales):
    payload = {"title": "一次", "due_at": "2030-01-02T10:00:00+08:00"}
    first = api(sales, "POST", "/tasks", payload, HTTP_IDEMPOTENCY_KEY="crm-1")
    again = api(sales, "POST", "/tasks", payload, HTTP_IDEMPOTENCY_KEY="crm-1")
    assert (first[0], again[0]) == (201, 201) and first[1] == again[1]
    assert Task.objects.count() == 1
    other = api(sales, "POST", "/tasks", {**payload, "title": "另一件"}, HTTP_IDEMPOTENCY_KEY="crm-1")
    assert other[0] == 409 and other[1]["field"] == "idempotency_key"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"title": "x", "due_at": "2030-01-02T10:00:00", "remind_at": "2030-01-02T11:00:00"}, 400, "remind_at"),
    ({"title": "x", "due_at": "2030-01-02T10:00:00", "owner": "nobody"}, 400, "owner"),
    ({"title": "x", "due_at": "not a date"}, 422, "due_at"),
    ({"title": "x"}, 422, "due_at"),
    ({"title": "x", "due_at": "2030-01-02T10:00:00", "colour": "red"}, 422, "colour"),
])
def test_bad_input_names_the_field_and_writes_nothing(api, sales, body, status, field):
    code, answer = api(sales, "POST", "/tasks", body)
    assert (code, answer["field"]) == (status, field)
    assert not Task.objects.exists()


def test_a_customer_the_caller_may_not_see_is_404(api, sales, other_customer):
    code, answer = api(sales, "POST", "/tasks", {"title": "x", "due_at": "2030-01-02T10:00:00",
                                                 "customer": other_customer.public_id})
    assert (code, answer["field"]) == (404, "customer")


def test_get_tasks_lists_mine_with_filters_and_hides_others(api, sales, rep2, manager):
    now = timezone.now()
    task_create(actor=sales, title="逾期", due_at=now - timedelta(hours=2))
    task_create(actor=sales, title="今天", due_at=now + timedelta(minutes=1))
    task_create(actor=rep2, title="别人的", due_at=now)
    assert [t["title"] for t in api(sales, "GET", "/tasks")[1]] == ["逾期", "今天"]
    assert [t["title"] for t in api(sales, "GET", "/tasks?due=overdue")[1]] == ["逾期"]
    assert [t["title"] for t in api(sales, "GET", "/tasks?scope=team")[1]] == ["逾期", "今天"]  # reps: only theirs
    assert len(api(manager, "GET", "/tasks?scope=team")[1]) == 3
    assert [t["title"] for t in api(manager, "GET", "/tasks?scope=team&owner=sales2")[1]] == ["别人的"]


def test_get_patch_and_complete_a_task(api, sales, soon):
    task = task_create(actor=sales, title="回访", due_at=soon, recurrence_days=30)
    code, body = api(sales, "GET", f"/tasks/{task.public_id}")
    assert code == 200 and body["title"] == "回访"
    code, body = api(sales, "PATCH", f"/tasks/{task.public_id}", {"title": "电话回访", "remind_before": None})
    assert code == 200 and (body["title"], body["remind_at"]) == ("电话回访", None)
    code, body = api(sales, "POST", f"/tasks/{task.public_id}/complete")
    assert code == 200 and body["status"] == TaskStatus.DONE and body["next"]
    assert Task.objects.get(public_id=body["next"]).status == TaskStatus.OPEN


def test_another_reps_task_answers_404(api, sales, rep2, soon):
    theirs = task_create(actor=rep2, title="别人的", due_at=soon)
    for method, path in (("GET", ""), ("PATCH", ""), ("POST", "/complete")):
        code, _body = api(sales, method, f"/tasks/{theirs.public_id}{path}", {} if method != "GET" else None)
        assert code == 404
    assert Task.objects.get(pk=theirs.pk).status == TaskStatus.OPEN


def test_a_read_token_cannot_write(api, sales):
    code, body = api(sales, "POST", "/tasks", {"title": "x", "due_at": "2030-01-02T10:00:00"}, scopes=["work:read"])
    assert code == 403 and body["code"] == "missing_scope"

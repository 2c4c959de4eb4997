"""Task pages for each role: list, form, detail, htmx actions, the customer panel, the picker, the rules."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import Role
from fidelis.work.models import FollowUpRule, Task, TaskStatus
from fidelis.work.services import follow_up_rule_create, task_create

pytestmark = pytest.mark.django_db


def _form(customer=None, **overrides):
    due = timezone.localtime() + timedelta(days=1)
    data = {"title": "美容预约前致电李太太", "owner": "", "due_date": due.strftime("%Y-%m-%d"), "due_time": "15:30",
            "remind_before": "30", "priority": "2", "recurrence_days": "", "notes": "提醒带疫苗本",
            "customer": customer.public_id if customer else ""}
    return data | overrides


def test_a_rep_adds_a_task_for_their_customer_and_goes_back_to_the_360_page(client_for, sales, my_customer):
    client = client_for(sales)
    # The form opened from the 360° page has the customer chosen and the rep as owner.
    page = client.get(reverse("work:task_create") + f"?customer={my_customer.public_id}")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'<option value="{my_customer.public_id}" selected>' in body
    back = reverse("customers:detail", args=[my_customer.public_id])
    response = client.post(reverse("work:task_create"), _form(my_customer, owner=sales.pk, next=back))
    assert response.status_code == 302 and response["Location"] == back
    task = Task.objects.get()
    local_due = timezone.localtime(task.due_at)
    assert (task.owner, task.customer, local_due.strftime("%H:%M")) == (sales, my_customer, "15:30")
    assert task.remind_at == task.due_at - timedelta(minutes=30)


def test_the_form_shows_service_errors_on_the_field_and_writes_nothing(client_for, sales, other_customer):
    client = client_for(sales)
    response = client.post(reverse("work:task_create"), _form(other_customer, owner=sales.pk))
    assert response.status_code == 200
    assert response.context["form"].errors["customer"]
    response = client.post(reverse("work:task_create"), _form(owner=sales.pk, due_date="2026-02-31"))
    assert response.context["form"].errors["due_date"]
    assert not Task.objects.exists()


def test_the_owner_choice_lists_active_users_who_work_on_tasks(client_for, manager, users):
    users[Role.MARKETING].is_active = False
    users[Role.MARKETING].save()
    form = client_for(manager).get(reverse("work:task_create")).context["form"]
    assert set(form.fields["owner"].queryset.values_list("username", flat=True)) == {"sales", "service", "manager"}


def test_a_rep_cannot_open_or_change_another_reps_task(client_for, sales, rep2, soon):
    theirs = task_create(actor=rep2, title="别人的回访", due_at=soon)
    client = client_for(sales)
    assert client.get(reverse("work:task_detail", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("work:task_edit", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("work:task_complete", args=[theirs.public_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TaskStatus.OPEN
    assert "别人的回访" not in client.get(reverse("work:tasks") + "?scope=team").content.decode()


def test_a_rep_sees_tasks_they_gave_to_others(client_for, sales, manager, soon):
    task_create(actor=sales, title="交给经理", due_at=soon, owner=manager)
    body = client_for(sales).get(reverse("work:tasks") + "?scope=created").content.decode()
    assert "交给经理" in body


def test_a_manager_sees_the_teams_tasks_and_filters_by_owner_and_due(client_for, manager, sales, rep2, soon):
    task_create(actor=sales, title="李的任务", due_at=soon)
    task_create(actor=rep2, title="张的逾期任务", due_at=timezone.now() - timedelta(hours=3))
    client = client_for(manager)
    assert client.get(reverse("work:tasks")).context["page"].paginator.count == 0  # mine: none
    team = client.get(reverse("work:tasks") + "?scope=team")
    assert [t.title for t in team.context["tasks"]] == ["张的逾期任务", "李的任务"]
    overdue = client.get(reverse("work:tasks") + "?scope=team&due=overdue")
    assert [t.title for t in overdue.context["tasks"]] == ["张的逾期任务"]
    one = client.get(reverse("work:tasks") + "?scope=team&owner=sales")
    assert [t.title for t in one.context["tasks"]] == ["李的任务"]
    detail = client.get(reverse("work:task_detail", args=[Task.objects.get(title="李的任务").public_id]))
    assert detail.status_code == 200


def test_complete_by_htmx_answers_the_row_in_place_and_reopen_brings_it_back(client_for, sales, my_customer, soon):
    task = task_create(actor=sales, title="致电", due_at=soon, customer=my_customer)
    client = client_for(sales)
    url = reverse("work:task_complete", args=[task.public_id])
    response = client.post(url, {"view": "item"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("<li") and f'id="task-{task.public_id}"' in body and "task-done" in body
    assert "task-reopen" in body
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    response = client.post(reverse("work:task_reopen", args=[task.public_id]), {"view": "row"},
                           HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith("<tr") and "task-complete" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_complete_without_htmx_goes_back(client_for, sales, soon):
    task = task_create(actor=sales, title="致电", due_at=soon)
    response = client_for(sales).post(reverse("work:task_complete", args=[task.public_id]), {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    response = client_for(sales).post(reverse("work:task_reopen", args=[task.public_id]),
                                      {"next": "https://evil.example.com/"})
    assert response["Location"] == task.get_absolute_url()


def test_snooze_by_htmx_puts_the_task_off_by_an_hour(client_for, sales, soon):
    task = task_create(actor=sales, title="稍后", due_at=soon)
    response = client_for(sales).post(reverse("work:task_snooze", args=[task.public_id]),
                                      {"view": "item", "until": "1h"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.due_at == soon + timedelta(hours=1)


def test_an_action_refused_by_the_service_shows_its_error_in_the_row(client_for, sales, soon):
    task = task_create(actor=sales, title="已取消", due_at=soon)
    client = client_for(sales)
    client.post(reverse("work:task_cancel", args=[task.public_id]), {"view": "item"}, HTTP_HX_REQUEST="true")
    response = client.post(reverse("work:task_snooze", args=[task.public_id]), {"view": "item", "until": "1h"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()


def test_edit_changes_the_task(client_for, sales, my_customer, soon):
    task = task_create(actor=sales, title="旧标题", due_at=soon, customer=my_customer, remind_before=15)
    client = client_for(sales)
    page = client.get(reverse("work:task_edit", args=[task.public_id]))
    assert page.context["form"].initial["remind_before"] == "15"
    response = client.post(reverse("work:task_edit", args=[task.public_id]),
                           _form(my_customer, owner=sales.pk, title="新标题", remind_before=""))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.title == "新标题" and task.remind_at is None


def test_the_customer_panel_lists_open_tasks_with_an_add_link(client_for, sales, my_customer, soon):
    task_create(actor=sales, title="美容预约前致电李太太", due_at=soon, customer=my_customer)
    response = client_for(sales).get(reverse("customers:panels", args=[my_customer.public_id]))
    body = response.content.decode()
    assert "美容预约前致电李太太" in body and 'id="task-add"' in body
    detail = client_for(sales).get(reverse("customers:detail", args=[my_customer.public_id])).content.decode()
    assert reverse("customers:panels", args=[my_customer.public_id]) in detail


def test_the_customer_panel_of_a_customer_the_rep_may_not_see_is_404(client_for, sales, other_customer):
    assert client_for(sales).get(reverse("customers:panels", args=[other_customer.public_id])).status_code == 404


def test_a_readonly_user_sees_the_panel_without_add_link(client_for, users, my_customer):
    body = client_for(users[Role.READONLY]).get(
        reverse("customers:panels", args=[my_customer.public_id])).content.decode()
    assert 'id="task-panel"' in body and 'id="task-add"' not in body


def test_the_customer_picker_offers_only_visible_customers(client_for, sales, my_customer, other_customer):
    client = client_for(sales)
    mine = client.get(reverse("work:customer_options") + "?customer_q=李太").content.decode()
    assert my_customer.public_id in mine
    theirs = client.get(reverse("work:customer_options") + "?customer_q=王先生").content.decode()
    assert other_customer.public_id not in theirs


def test_rules_managers_create_and_edit_others_read(client_for, manager, sales, users):
    client = client_for(manager)
    response = client.post(reverse("work:rule_create"), {
        "name": "购物后 7 天回访", "is_active": "on", "trigger": "order.paid", "delay_days": "7", "due_time": "10:00",
        "store": "", "min_amount": "", "assignee": users[Role.SERVICE].pk, "title_template": "回访 {customer}：{order_no}",
        "priority": "2", "remind_before": "30"})
    assert response.status_code == 302
    rule = FollowUpRule.objects.get()
    assert (rule.assignee, rule.remind_before, rule.created_by) == (users[Role.SERVICE], 30, manager)
    bad = client.post(reverse("work:rule_edit", args=[rule.public_id]), {
        "name": "x", "trigger": "order.paid", "delay_days": "7", "due_time": "10:00", "title_template": "{phone}",
        "priority": "2"})
    assert bad.status_code == 200 and bad.context["form"].errors["title_template"]
    # A rep reads the list, but may not open the forms.
    rep = client_for(sales)
    assert "购物后 7 天回访" in rep.get(reverse("work:rules")).content.decode()
    assert rep.get(reverse("work:rule_create")).status_code == 403
    assert rep.post(reverse("work:rule_edit", args=[rule.public_id]), {"name": "改"}).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "购物后 7 天回访"


def test_a_rule_page_of_a_follow_up_rule_that_does_not_exist_is_404(client_for, manager):
    follow_up_rule_create(actor=manager, data={"name": "有"})
    assert client_for(manager).get(reverse("work:rule_edit", args=["0" * 16])).status_code == 404


def test_the_navigation_has_the_tasks_entry(client_for, sales):
    items = client_for(sales).get(reverse("work:tasks")).context["nav_items"]
    entry = next(i for i in items if i["name"] == "work:tasks")
    assert entry["active"] and entry["icon"] == "check"

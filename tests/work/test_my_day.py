"""「我的一天」 on the home page: the user's open tasks as overdue / today / next 7 days, in a fixed number of queries."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.work.selectors import my_day
from fidelis.work.services import task_cancel, task_complete, task_create

pytestmark = pytest.mark.django_db


def test_my_day_groups_open_tasks_by_due_time(sales, rep2):
    # given: "now" is 2026-11-23 14:00 in Shanghai
    tz = timezone.get_current_timezone()
    now = datetime(2026, 11, 23, 14, 0, tzinfo=tz)

    def at(day, hour):
        return datetime(2026, 11, day, hour, 0, tzinfo=tz)

    titles = {"昨天": at(22, 10), "今早": at(23, 9), "今晚": at(23, 20), "明天": at(24, 10),
              "六天后": at(29, 10), "八天后": datetime(2026, 12, 2, 10, 0, tzinfo=tz)}
    for title, due in titles.items():
        task_create(actor=sales, title=title, due_at=due)
    task_complete(actor=sales, task=task_create(actor=sales, title="做完了", due_at=at(23, 16)))
    task_cancel(actor=sales, task=task_create(actor=sales, title="取消了", due_at=at(23, 16)))
    task_create(actor=rep2, title="别人的", due_at=at(23, 16))
    # when
    day = my_day(sales, now=now)
    # then
    assert [t.title for t in day.overdue] == ["昨天", "今早"]
    assert [t.title for t in day.today] == ["今晚"]
    assert [t.title for t in day.upcoming] == ["明天", "六天后"]
    assert not day.more


def test_the_home_page_shows_my_day_with_links_and_complete_buttons(client_for, manager, sales):
    customer = customer_create(actor=manager, data={"name": "李太太"}, owner=sales)
    task = task_create(actor=sales, title="美容预约前致电李太太", due_at=timezone.now() + timedelta(minutes=1),
                       customer=customer)
    response = client_for(sales).get(reverse("web:home"))
    body = response.content.decode()
    assert response.context["my_day"].count == 1
    assert 'id="my-day"' in body and 'id="all-tasks"' in body
    assert reverse("customers:detail", args=[customer.public_id]) in body
    assert reverse("work:task_complete", args=[task.public_id]) in body


def test_a_readonly_user_sees_my_day_without_buttons(client_for, users):
    body = client_for(users[Role.READONLY]).get(reverse("web:home")).content.decode()
    assert 'id="my-day"' in body and "task-complete" not in body


def test_the_home_page_query_count_does_not_grow_with_tasks(client_for, manager, sales,
                                                            django_assert_num_queries):
    customers = [customer_create(actor=manager, data={"name": f"客户{i}"}, owner=sales) for i in range(6)]
    now = timezone.now()
    client = client_for(sales)
    client.get(reverse("web:home"))  # warm the session
    for i, customer in enumerate(customers):
        for offset in (-timedelta(days=1), timedelta(minutes=5 + i), timedelta(days=3)):
            task_create(actor=sales, title=f"回访{i}", due_at=now + offset, customer=customer)
    # The session with its user, my day: the same whatever the number of tasks (the dashboard comes in its own
    # request).
    with django_assert_num_queries(2):
        response = client.get(reverse("web:home"))
    assert response.context["my_day"].count == 18
    assert response.content.decode().count('class="task task-open') == 18


def test_my_day_shows_each_change_and_each_requests_own_token(manager, sales):
    # given two browsers (two CSRF tokens), when each opens the home page, then each task's forms carry that
    # browser's own token, and the page follows the task's changes and the user's time zone
    from django.test import Client

    from fidelis.work.services import task_update

    customer = customer_create(actor=manager, data={"name": "李太太"}, owner=sales)
    task = task_create(actor=sales, title="美容预约前致电", due_at=timezone.now() + timedelta(hours=2),
                       customer=customer)
    pages = []
    for _ in range(2):  # two browsers: two CSRF tokens
        client = Client()
        client.force_login(sales)
        pages.append(client.get(reverse("web:home")).content.decode())
    tokens = [page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0] for page in pages]
    assert tokens[0] != tokens[1]
    for page, token, other in zip(pages, tokens, reversed(tokens), strict=True):
        assert page.count(f'name="csrfmiddlewaretoken" value="{token}"') == 4  # done, put off, language, log out
        assert other not in page and "美容预约前致电" in page
    task_update(actor=sales, task=task, data={"title": "改期：周六上午"})
    page = client.get(reverse("web:home")).content.decode()
    assert "改期：周六上午" in page and "美容预约前致电" not in page
    with timezone.override("Europe/Berlin"):  # the due time is shown in the user's zone
        assert timezone.localtime(task.due_at).strftime("%m-%d %H:%M") in client.get(
            reverse("web:home")).content.decode()


def test_my_day_marks_overdue_tasks_and_high_priority_ones(client_for, sales):
    # given: an overdue task of high priority and one due later today
    now = timezone.now()
    late = task_create(actor=sales, title="昨天该打的电话", due_at=now - timedelta(hours=3), priority=3)
    later = task_create(actor=sales, title="晚些时候", due_at=now + timedelta(minutes=30),
                        remind_at=now + timedelta(minutes=15), recurrence_days=7)
    # when
    body = client_for(sales).get(reverse("web:home")).content.decode()
    # then: the overdue one is in the overdue group, marked, with its badges; the other carries its reminder and
    # repetition, and both can be done or put off
    overdue = body[body.index('id="tasks-overdue"'):body.index('id="tasks-today"')]
    today = body[body.index('id="tasks-today"'):body.index('id="tasks-upcoming"')]
    assert f'class="task task-open overdue" id="task-{late.public_id}"' in overdue
    assert 'class="badge bad task-state"' in overdue and "高优先级" in overdue
    assert f'class="task task-open" id="task-{later.public_id}"' in today
    assert "task-state" not in today and "每 7 天" in today and "提醒" in today
    assert body.count('class="small primary task-complete"') == 2 and body.count('name="until"') == 2


def test_a_task_about_a_customer_given_to_another_rep_leaves_the_former_owners_day(client_for, manager, sales,
                                                                                    rep2):
    # given: the rep's task about their customer is on their day
    from fidelis.customers.services import customer_update

    customer = customer_create(actor=manager, data={"name": "欧阳转交"}, owner=sales)
    task = task_create(actor=sales, title="回访", due_at=timezone.now() + timedelta(hours=1), customer=customer)
    assert [t.public_id for t in my_day(sales).today] == [task.public_id]
    # when: the customer is given to another rep
    customer_update(actor=manager, customer=customer, data={"owner": rep2})
    # then: the former owner's day, as the task list and the customer page, no longer shows it
    assert my_day(sales).count == 0
    client = client_for(sales)
    assert "欧阳转交" not in client.get(reverse("web:home")).content.decode()
    assert client.get(reverse("customers:detail", args=[customer.public_id])).status_code == 404
    task.refresh_from_db()
    assert task.owner == sales  # the task itself is untouched; its customer's owner decides who sees it


@pytest.mark.parametrize("role", [role for role in Role.values if role != Role.READONLY])  # who may own tasks
def test_my_day_reads_the_rows_of_its_selector_for_every_role(users, manager, rep2, role):
    # given: tasks of the user about their own, an unassigned, another rep's and a merged customer, and none
    from fidelis.customers.dedupe import customers_merge
    from fidelis.customers.services import customer_update
    from fidelis.work.selectors import day_bounds, my_day_qs

    user = users[role]
    now = timezone.now()
    own = customer_create(actor=manager, data={"name": "自己的"}, owner=user)
    unassigned = customer_create(actor=manager, data={"name": "无主的"})
    given_away = customer_create(actor=manager, data={"name": "转走的"}, owner=user)
    absorbed = customer_create(actor=manager, data={"name": "并走的", "phone": "13700137001"}, owner=user)
    kept = customer_create(actor=manager, data={"name": "留下的", "phone": "13700137002"}, owner=user)
    for i, customer in enumerate((own, unassigned, given_away, absorbed, None)):
        task_create(actor=manager, owner=user, title=f"任务{i}", due_at=now + timedelta(hours=i + 1),
                    customer=customer)
    customer_update(actor=manager, customer=given_away, data={"owner": rep2})
    customers_merge(actor=manager, keep=kept, absorb=absorbed)
    # when
    day = my_day(user, now=now)
    # then: the same tasks as the queryset of task_visible_qs gives, read by the ORM
    _now, _tomorrow, horizon = day_bounds(now)
    expected = [row[0] for row in my_day_qs(user, horizon=horizon)]
    assert [t.public_id for t in day.overdue + day.today + day.upcoming] == expected
    titles = {t.title for t in day.today + day.upcoming}
    assert {"任务0", "任务1", "任务4"} <= titles
    assert ("任务2" in titles) == (role != Role.SALES)  # a rep no longer sees the customer given away

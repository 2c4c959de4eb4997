"""Demo data for tasks: each sales rep's and the service desk's day, the follow-up rule, the pet-shop case.

Runs after the customer archive and the member club. Due times are relative to the demo's "now" (`--as-of`):
for every sales rep a few overdue, today's and upcoming tasks on their own customers, some of them recurring;
for the service user a few follow-up calls; the rule 购物后 7 天回访 (active, for purchases recorded from now on);
and seed 004's pet shop: one of the first rep's customers becomes 李太太 with her cat (tags 宠物品种:布偶猫,
宠物:猫), and the task 美容预约前致电李太太 with a reminder.
"""

from datetime import datetime, timedelta
from random import Random

from django.db import transaction
from django.utils import timezone

from fidelis.customers.models import Customer, CustomerKind, Gender
from fidelis.customers.services import customer_tag_add, customer_update
from fidelis.work.models import FollowUpRule, Task, TaskPriority
from fidelis.work.services import follow_up_rule_create, task_create

FOLLOW_UP_RULE = "购物后 7 天回访"
PET_TASK = "美容预约前致电李太太"
# (title with the customer's name, day offset from the demo's today, hour, priority, repeat every n days)
REP_TASKS = [
    ("回访 {name}：上周购物体验", -2, 10, TaskPriority.NORMAL, None),
    ("给 {name} 发送会员日活动邀请", -1, 15, TaskPriority.HIGH, None),
    ("致电 {name} 确认生日礼品领取", 0, 21, TaskPriority.NORMAL, None),
    ("{name} 的积分即将过期，提醒兑换", 0, 22, TaskPriority.LOW, None),
    ("拜访 {name}：新品试用反馈", 2, 14, TaskPriority.NORMAL, None),
    ("{name} 季度回访", 5, 10, TaskPriority.NORMAL, 90),
]
SERVICE_TASKS = [
    ("投诉跟进：{name} 的退货进度", -1, 11, TaskPriority.HIGH),
    ("满意度回访：{name}", 0, 21, TaskPriority.NORMAL),
    ("服务补救回访：{name}", 3, 16, TaskPriority.NORMAL),
]


def _at(now: datetime, days: int, hour: int) -> datetime:
    local = timezone.localtime(now)
    day = (local + timedelta(days=days)).date()
    return timezone.make_aware(datetime.combine(day, datetime.min.time().replace(hour=hour)))


def demo_load(ctx) -> dict[str, int]:
    rng = Random(ctx.seed)
    created = 0
    with transaction.atomic():
        for rep in ctx.users_with_role("sales"):
            customers = list(Customer.objects.filter(owner=rep, merged_into__isnull=True).order_by("pk")[:40])
            for title, days, hour, priority, every in REP_TASKS:
                if not customers:
                    break
                customer = customers.pop(rng.randrange(len(customers)))
                task_create(actor=rep, title=title.format(name=customer.name), due_at=_at(ctx.now, days, hour),
                            customer=customer, priority=priority, recurrence_days=every,
                            remind_before=rng.choice((0, 15, 30, 60)), via="demo")
                created += 1
        service = ctx.users.get("service")
        if service is not None:
            customers = list(Customer.objects.filter(merged_into__isnull=True).order_by("pk")[:30])
            for (title, days, hour, priority), customer in zip(SERVICE_TASKS, rng.sample(customers, min(
                    len(SERVICE_TASKS), len(customers))), strict=False):
                task_create(actor=service, title=title.format(name=customer.name), due_at=_at(ctx.now, days, hour),
                            customer=customer, priority=priority, remind_before=30, via="demo")
                created += 1
        created += _pet_shop(ctx)
    if service is not None:
        follow_up_rule_create(actor=ctx.actor, data={
            "name": FOLLOW_UP_RULE, "delay_days": 7, "assignee": service, "remind_before": 30,
            "title_template": "回访 {customer}：{order_no}"})
    ctx.write(f"  {created} tasks and the follow-up rule {FOLLOW_UP_RULE}")
    return {"tasks": created}


def _pet_shop(ctx) -> int:
    """Seed 004's pet shop: Mrs Li (李太太, one of the first rep's customers, a woman surnamed 李 when there is
    one) gets her job, hobbies, special requests and her cat, and a call before the grooming appointment."""
    reps = ctx.users_with_role("sales")
    if not reps:
        return 0
    rep = reps[0]
    mine = Customer.objects.filter(owner=rep, merged_into__isnull=True, kind=CustomerKind.INDIVIDUAL).order_by("pk")
    customer = mine.filter(name__startswith="李", gender=Gender.FEMALE).first() or mine.first()
    if customer is None:
        return 0
    customer_update(actor=ctx.actor, customer=customer, via="demo", data={
        "occupation": "小学教师", "interests": "烘焙、插花、宠物",
        "special_requests": "布偶猫「雪球」，母，3 岁；洗护用低敏沐浴露，剪指甲时需要两人协助，怕吹风机。",
        "notes": "每月第二个周六上午预约美容；喜欢店员提前一天电话确认。店员称呼她李太太。"})
    for tag in ("宠物品种:布偶猫", "宠物:猫"):
        customer_tag_add(actor=ctx.actor, customer=customer, tag_name=tag, via="demo")
    task_create(actor=rep, title=PET_TASK, due_at=_at(ctx.now, 1, 10), customer=customer,
                priority=TaskPriority.HIGH, remind_before=60, recurrence_days=28, via="demo",
                notes="确认周六上午 10 点美容预约；提醒带上疫苗本，准备低敏沐浴露。")
    return 1


def demo_reset(ctx) -> None:
    """Delete every task and follow-up rule."""
    with transaction.atomic():
        Task.objects.all().delete()
        FollowUpRule.objects.all().delete()

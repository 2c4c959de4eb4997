"""Demo data for the voice of the customer: the mall's touchpoint catalogue (接触点), stage by stage.

Loading again adds only the touchpoints missing by name, so the catalogue is there once however often it runs.
"""

from django.db import transaction

from fidelis.events.models import Channel
from fidelis.feedback.models import JourneyStage, Touchpoint
from fidelis.feedback.services import touchpoint_save

S = JourneyStage
# (name, stage, channel, owner team, description), in the order of the journey.
TOUCHPOINTS = [
    ("微信公众号推文", S.AWARENESS, Channel.WECHAT, "市场部", "每周活动与新品推送，新会员从这里关注。"),
    ("商场入口", S.AWARENESS, Channel.STORE, "营运部", "正门与地铁口入口：迎宾、导视牌与当日活动海报。"),
    ("停车场", S.AWARENESS, Channel.STORE, "物业管理部", "找车位、缴费、会员免费停车时长。"),
    ("导购咨询", S.CONSIDERATION, Channel.STORE, "各店铺导购", "店内咨询、试穿试用、比较推荐。"),
    ("小程序/APP", S.CONSIDERATION, Channel.ONLINE, "数字化运营组", "查看商品与优惠、领券、预约服务。"),
    ("收银台", S.PURCHASE, Channel.STORE, "收银组", "排队、结账、积分与优惠券核销、开发票。"),
    ("会员服务台", S.PURCHASE, Channel.STORE, "会员服务组", "办卡、积分查询与兑换、礼品领取。"),
    ("配送", S.USE, Channel.STORE, "物流配送组", "大件与生鲜送货上门、预约送达时间。"),
    ("安装与使用指导", S.USE, Channel.PHONE, "售后服务部", "家电家具上门安装、使用讲解。"),
    ("客服热线", S.SERVICE, Channel.PHONE, "客服中心", "400 热线：咨询、投诉与回访。"),
    ("退换货/售后", S.SERVICE, Channel.STORE, "售后服务部", "退换货办理、维修与服务补救。"),
    ("会员日活动", S.LOYALTY, Channel.STORE, "会员服务组", "每月会员日：双倍积分、专属活动。"),
    ("推荐有礼", S.LOYALTY, Channel.WECHAT, "市场部", "老会员推荐新会员，双方得积分。"),
]


def demo_load(ctx) -> dict[str, int]:
    """Create the mall's touchpoints that are not there yet (by name); return how many were made."""
    existing = {name.lower() for name in Touchpoint.objects.values_list("name", flat=True)}
    created = 0
    for name, stage, channel, team, description in TOUCHPOINTS:
        if name.lower() in existing:
            continue
        touchpoint_save(actor=ctx.actor, via="demo", data={
            "name": name, "stage": stage, "channel": channel, "owner_team": team, "description": description})
        created += 1
    ctx.write(f"  {created} touchpoints in the journey of the mall")
    return {"touchpoints": created}


def demo_reset(ctx) -> None:
    """Delete the touchpoint catalogue (the demo's reset starts from an empty mall)."""
    with transaction.atomic():
        Touchpoint.objects.all().delete()

"""Demo data for the customer archive: the member club of a shopping mall, with believable Chinese customers.

`generate_customers` is pure (a seeded `random.Random`, a fixed "now", no database); `demo_customers_load`
writes what it generates in chunks with bulk inserts. The search keys are computed with the same normalize
functions as `customer_prepare`, so demo customers are found exactly like the ones typed into the UI.
"""

from __future__ import annotations

import json
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from fidelis.accounts.services import audit_record
from fidelis.core.models import new_public_ids
from fidelis.customers.models import (
    Category,
    CompanySize,
    Consent,
    ConsentChannel,
    Contact,
    Customer,
    CustomerKind,
    CustomerNumberSequence,
    CustomerTag,
    DuplicateCandidate,
    Gender,
    ImportJob,
    LifecycleStage,
    MergeRecord,
    Tag,
    ValueTier,
)
from fidelis.customers.normalize import company_key, name_pinyin, normalize_email, phone_search_digits
from fidelis.customers.services import customer_number_next
from fidelis.events.models import Channel, Event, PendingDispatch

MALL_NAME = "星河购物中心"
CLUB_NAME = "星河会员俱乐部"
MALL_TZ = ZoneInfo("Asia/Shanghai")
# The demo's "now": fixed so that the same seed gives the same data on any day (`fidelis demo --as-of` moves it).
DEMO_NOW = datetime(2026, 11, 15, 20, 0, tzinfo=MALL_TZ)
HISTORY_DAYS = 730
CHUNK = 5000


Weighted = tuple[list[Any], list[float], float]


def _weighted(pairs: list[tuple[Any, float]]) -> Weighted:
    """Return the values, their cumulative weights and the total, for `_pick`."""
    cum = list(accumulate(w for _v, w in pairs))
    return [v for v, _w in pairs], cum, cum[-1]


def _pick(rng: Random, table: Weighted) -> Any:
    """Return a value of the table with its weight's probability (what `Random.choices` does, faster)."""
    values, cum, total = table
    return values[bisect(cum, rng.random() * total)]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Family names by their share of the population (per cent); a few two-character ones for realism.
FAMILY_NAMES = _weighted([
    ("王", 7.1), ("李", 7.0), ("张", 6.4), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.2), ("赵", 2.0),
    ("吴", 1.9), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.2), ("朱", 1.2), ("胡", 1.1), ("郭", 1.1),
    ("何", 1.0), ("林", 0.97), ("高", 0.96), ("罗", 0.86), ("郑", 0.83), ("梁", 0.81), ("谢", 0.71),
    ("宋", 0.65), ("唐", 0.63), ("许", 0.6), ("韩", 0.59), ("冯", 0.57), ("邓", 0.56), ("曹", 0.55),
    ("彭", 0.54), ("曾", 0.53), ("肖", 0.5), ("田", 0.49), ("董", 0.48), ("袁", 0.47), ("潘", 0.46),
    ("于", 0.45), ("蒋", 0.45), ("蔡", 0.44), ("余", 0.43), ("杜", 0.42), ("叶", 0.41), ("程", 0.4),
    ("苏", 0.39), ("魏", 0.38), ("吕", 0.37), ("丁", 0.36), ("任", 0.35), ("沈", 0.34), ("姚", 0.33),
    ("卢", 0.32), ("姜", 0.31), ("崔", 0.3), ("钟", 0.3), ("谭", 0.29), ("陆", 0.28), ("汪", 0.27),
    ("范", 0.26), ("金", 0.26), ("石", 0.25), ("廖", 0.25), ("贾", 0.24), ("夏", 0.24), ("韦", 0.23),
    ("付", 0.23), ("方", 0.22), ("白", 0.22), ("邹", 0.21), ("孟", 0.21), ("熊", 0.2), ("秦", 0.2),
    ("邱", 0.2), ("江", 0.19), ("尹", 0.19), ("薛", 0.18), ("闫", 0.18), ("段", 0.18), ("雷", 0.17),
    ("侯", 0.17), ("龙", 0.16), ("史", 0.16), ("陶", 0.15), ("黎", 0.15), ("贺", 0.15), ("顾", 0.14),
    ("毛", 0.14), ("郝", 0.14), ("龚", 0.13), ("邵", 0.13), ("万", 0.13), ("钱", 0.12), ("严", 0.12),
    ("武", 0.12), ("戴", 0.11), ("莫", 0.11), ("孔", 0.11), ("向", 0.11), ("汤", 0.1), ("欧阳", 0.05),
    ("司马", 0.01), ("诸葛", 0.01), ("上官", 0.01),
])
GIVEN_FEMALE = _words(
    "芳 娜 敏 静 丽 艳 娟 霞 燕 玲 婷 雪 琳 颖 倩 洁 萍 红 蕾 晶 秀英 桂英 秀兰 玉兰 丽娟 晓燕 美玲 雅静 欣怡 梓涵 "
    "诗涵 子涵 雨桐 可馨 思雨 佳怡 梦琪 一诺 雨欣 静怡 晓梅 海燕 春梅 淑珍 慧敏 紫萱 欣妍 语嫣 若曦 婉清 晓丽 "
    "丽华 文静 佳琪 思琪 嘉欣 梦瑶 雨萱 晓雯 婷婷 丹丹 莉莉 亚楠 凤英 玉梅 秋菊"
)
GIVEN_MALE = _words(
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 阳 建 亮 成 峰 "
    "建华 建国 志强 志明 俊杰 子轩 浩然 宇轩 文博 一鸣 家豪 晓东 海涛 明辉 国庆 永刚 立新 振华 伟东 天佑 梓豪 "
    "皓轩 博文 思远 宏伟 晨阳 子豪 铭泽 俊熙 建军 海波 文斌 志刚 国强 德华 小龙 家乐 宇航 子墨"
)
# Given names are far from uniform: the first ones of each list are the most common.
GIVEN_FEMALE = _weighted([(name, 1 / (i + 4)) for i, name in enumerate(GIVEN_FEMALE)])
GIVEN_MALE = _weighted([(name, 1 / (i + 4)) for i, name in enumerate(GIVEN_MALE)])

MOBILE_PREFIXES = _weighted([
    ("138", 6), ("139", 6), ("137", 5), ("136", 5), ("135", 5), ("134", 3), ("159", 4), ("158", 4), ("157", 2),
    ("152", 3), ("151", 3), ("150", 3), ("188", 4), ("187", 3), ("182", 3), ("183", 2), ("184", 1), ("178", 2),
    ("130", 3), ("131", 3), ("132", 2), ("155", 2), ("156", 2), ("185", 3), ("186", 4), ("176", 2), ("133", 2),
    ("153", 2), ("180", 2), ("181", 2), ("189", 3), ("177", 2), ("173", 1), ("199", 2), ("166", 1), ("198", 1),
])

# The mall is in Shanghai: most members live there, the rest nearby or in the big cities.
SHANGHAI_DISTRICTS = _weighted([
    ("浦东新区", 30), ("闵行区", 12), ("徐汇区", 8), ("静安区", 6), ("黄浦区", 5), ("长宁区", 5), ("普陀区", 6),
    ("虹口区", 5), ("杨浦区", 6), ("宝山区", 6), ("嘉定区", 4), ("松江区", 4), ("青浦区", 2), ("奉贤区", 2),
])
OTHER_CITIES = _weighted([
    (("江苏省", "苏州市", ("姑苏区", "工业园区", "吴中区", "相城区")), 10),
    (("江苏省", "南京市", ("鼓楼区", "玄武区", "建邺区", "秦淮区")), 6),
    (("江苏省", "无锡市", ("梁溪区", "滨湖区", "新吴区")), 4),
    (("浙江省", "杭州市", ("西湖区", "上城区", "滨江区", "拱墅区")), 8),
    (("浙江省", "宁波市", ("鄞州区", "海曙区", "江北区")), 4),
    (("安徽省", "合肥市", ("蜀山区", "包河区", "庐阳区")), 3),
    (("北京市", "北京市", ("朝阳区", "海淀区", "东城区", "西城区")), 4),
    (("广东省", "深圳市", ("南山区", "福田区", "宝安区")), 3),
    (("广东省", "广州市", ("天河区", "越秀区", "海珠区")), 2),
    (("四川省", "成都市", ("武侯区", "锦江区", "高新区")), 2),
    (("湖北省", "武汉市", ("江汉区", "洪山区", "武昌区")), 2),
])
STREETS = _words(
    "世纪大道 张杨路 浦东南路 东方路 杨高中路 锦绣路 南京西路 淮海中路 长寿路 虹桥路 漕溪北路 四川北路 "
    "人民路 中山路 解放路 建设路 和平路 文化路 新华路 长江路 黄河路 学府路 滨江大道 科苑路 银城中路"
)
RESIDENCES = _words("阳光花园 金色家园 绿城小区 滨江苑 翠湖天地 世纪新城 锦绣华庭 春江花月 枫林苑 御景湾")

COMPANY_CORES = _words(
    "启明 华信 中联 恒达 鼎盛 佳禾 瑞丰 汇通 远航 星辰 博雅 金桥 新源 宏图 天和 东方 锦程 安泰 晨光 永安 "
    "润泽 致远 海纳 盛世 同创 优品 华翔 嘉业 信达 和光"
)
COMPANY_TRADES = [  # (name part, industry)
    ("科技", "信息技术"), ("信息技术", "信息技术"), ("贸易", "批发零售"), ("商贸", "批发零售"),
    ("餐饮管理", "餐饮"), ("文化传媒", "文化传媒"), ("广告", "文化传媒"), ("建筑工程", "建筑"),
    ("物流", "物流"), ("企业管理咨询", "咨询"), ("教育科技", "教育"), ("医疗器械", "医疗"),
    ("生物科技", "医疗"), ("服饰", "制造"), ("食品", "制造"), ("投资管理", "金融"), ("物业管理", "房地产"),
]
COMPANY_SUFFIXES = _weighted([("有限公司", 70), ("股份有限公司", 10), ("集团有限公司", 8), ("有限责任公司", 12)])
CONTACT_TITLES = ("行政经理", "采购主管", "人事专员", "总经理助理", "市场总监", "工会主席", "办公室主任", "财务经理")

OCCUPATIONS = _weighted([
    ("白领", 14), ("工程师", 8), ("程序员", 6), ("教师", 6), ("医生", 3), ("护士", 3), ("设计师", 4), ("会计", 5),
    ("销售经理", 5), ("公务员", 4), ("律师", 2), ("自由职业", 5), ("学生", 8), ("退休", 7), ("企业主", 4),
    ("产品经理", 3), ("银行职员", 3), ("客服", 2), ("厨师", 1), ("摄影师", 1), ("全职妈妈", 4),
])
INTERESTS = _words(
    "美食 咖啡 烘焙 健身 瑜伽 跑步 羽毛球 游泳 亲子活动 早教 美妆护肤 时尚穿搭 数码产品 电竞 电影 音乐 读书 "
    "旅行 摄影 宠物 茶艺 手工DIY 珠宝首饰 家居"
)
SPECIAL_REQUESTS = (
    "需要无障碍停车位",
    "只接受短信联系，请勿来电",
    "对花生过敏，餐饮券请避开坚果类",
    "生日当天希望收到提醒",
    "请提前一天预约私人导购",
    "需要增值税专用发票",
    "偏好周末联系",
    "送货请放物业前台",
    "孩子乳糖不耐受，儿童活动请注意餐点",
    "行动不便，需要轮椅借用服务",
)

# Tags by group: interests, the pet-shop breeds, where the member came from, what they buy.
TAG_GROUPS: dict[str, tuple[str, ...]] = {
    "兴趣": ("美食", "亲子", "运动健身", "美妆", "数码", "宠物", "电影", "旅行"),
    "宠物品种": ("泰迪", "金毛", "布偶猫", "柯基", "英短", "柴犬", "比熊", "橘猫"),
    "会员来源": ("门店登记", "微信公众号", "小程序", "游戏活动", "商场活动"),
    "消费偏好": ("餐饮", "服饰", "超市", "影院", "儿童乐园", "珠宝"),
    "客户标记": ("VIP", "团购客户", "投诉过"),
}
TAG_COLORS = {"兴趣": "#5b6abf", "宠物品种": "#c77c2e", "会员来源": "#2e8b57", "消费偏好": "#b03a6f",
              "客户标记": "#8a6d3b"}
INTEREST_TAG = {"美食": "美食", "咖啡": "美食", "烘焙": "美食", "亲子活动": "亲子", "早教": "亲子",
                "健身": "运动健身", "瑜伽": "运动健身", "跑步": "运动健身", "羽毛球": "运动健身", "游泳": "运动健身",
                "美妆护肤": "美妆", "数码产品": "数码", "电竞": "数码", "宠物": "宠物", "电影": "电影", "旅行": "旅行"}

# Where members come from (also the source of their consent), with the channel of their first contact.
SOURCES = _weighted([
    (("门店登记", "store"), 34), (("微信公众号", "wechat"), 26), (("小程序", "wechat"), 22),
    (("游戏活动", "wechat"), 12), (("商场活动", "store"), 6),
])
# The loyalty funnel: many interested people and followers, fewer members, buyers, loyal members, advocates.
FUNNEL = _weighted([
    (LifecycleStage.INTERESTED.value, 33), (LifecycleStage.FOLLOWER.value, 25), (LifecycleStage.MEMBER.value, 17),
    (LifecycleStage.BUYER.value, 14), (LifecycleStage.LOYAL.value, 8), (LifecycleStage.ADVOCATE.value, 3),
])
STAGE_RANK = {stage: rank for rank, stage in enumerate(LifecycleStage.values)}
# Orders per stage (min, max) over the two years.
ORDERS = {LifecycleStage.BUYER: (1, 3), LifecycleStage.LOYAL: (4, 12), LifecycleStage.ADVOCATE: (8, 20)}

# The mall's shops: (shop, floor, price range in yuan, weight of a purchase there).
SHOPS = _weighted([
    (("悦享咖啡", "1F", 25, 80), 14), (("蜀香火锅", "5F", 150, 600), 10), (("星河影城", "6F", 60, 220), 10),
    (("生鲜超市", "B1", 30, 500), 16), (("时尚女装馆", "2F", 199, 1999), 8), (("金饰珠宝", "1F", 800, 20000), 2),
    (("数码港", "4F", 99, 9999), 4), (("萌宠之家", "B1", 49, 899), 6), (("童趣乐园", "4F", 80, 300), 8),
    (("书香阁", "3F", 30, 200), 5), (("运动城", "3F", 199, 1299), 7), (("美妆集合店", "1F", 99, 1500), 10),
])
VISIT_SPOTS = ("B1 美食广场", "1F 中庭", "3F 亲子区", "6F 影城", "停车场入口", "会员服务台")
CALL_TOPICS = ("回访：会员日活动邀请", "回访：新店开业通知", "生日关怀电话", "回访：上次购物体验", "团购礼品卡咨询",
               "积分到期提醒", "停车优惠咨询")
COMPLAINTS = ("停车缴费排队太久", "餐厅等位时间过长", "商品质量问题，要求退换", "导购服务态度不好", "洗手间不够干净",
              "积分未到账", "优惠券无法使用", "空调温度太低")
# Hour of a visit: the mall opens at 10:00, busy at lunch and in the evening.
HOURS = _weighted([(10, 4), (11, 7), (12, 10), (13, 9), (14, 7), (15, 7), (16, 7), (17, 8), (18, 10), (19, 11),
                   (20, 9), (21, 5)])


class DemoEvent(NamedTuple):
    type: str
    occurred_at: datetime
    channel: str
    summary: str = ""
    touchpoint: str = ""
    payload: dict | None = None
    actor_id: int | None = None


class DemoConsent(NamedTuple):
    channel: str
    granted: bool
    source: str
    recorded_at: datetime


class DemoContact(NamedTuple):
    name: str
    title: str
    phone: str
    is_primary: bool


@dataclass
class DemoCustomer:
    """One generated customer (field values by attribute name) and what hangs off it."""

    customer: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    consents: list[DemoConsent] = field(default_factory=list)
    contacts: list[DemoContact] = field(default_factory=list)
    events: list[DemoEvent] = field(default_factory=list)


def person_name(rng: Random, gender: str = "") -> str:
    """Return a Chinese name: a family name by frequency and a given name of one or two characters."""
    family = _pick(rng, FAMILY_NAMES)
    if gender == Gender.MALE or (not gender and rng.random() < 0.5):
        return family + _pick(rng, GIVEN_MALE)
    return family + _pick(rng, GIVEN_FEMALE)


def mobile_number(rng: Random) -> str:
    """Return a mainland mobile number in E.164 (+86 and 11 digits, valid prefixes only)."""
    return f"+86{_pick(rng, MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"


def company_name(rng: Random) -> tuple[str, str]:
    """Return a company's registered name and its industry."""
    city = rng.choice(("上海", "上海", "上海", "苏州", "杭州", ""))
    trade, industry = rng.choice(COMPANY_TRADES)
    return f"{city}{rng.choice(COMPANY_CORES)}{trade}{_pick(rng, COMPANY_SUFFIXES)}", industry


def place(rng: Random) -> tuple[str, str, str, str]:
    """Return province, city, district and street address."""
    if rng.random() < 0.72:
        province = city = "上海市"
        district = _pick(rng, SHANGHAI_DISTRICTS)
    else:
        province, city, districts = _pick(rng, OTHER_CITIES)
        district = rng.choice(districts)
    street = rng.choice(STREETS)
    r = rng.random
    if r() < 0.6:
        address = f"{street}{int(r() * 2800) + 1}弄{int(r() * 120) + 1}号{int(r() * 32) + 1}0{int(r() * 4) + 1}室"
    else:
        address = (f"{street}{int(r() * 999) + 1}号{rng.choice(RESIDENCES)}{int(r() * 30) + 1}号楼"
                   f"{int(r() * 28) + 1}0{int(r() * 6) + 1}室")
    return province, city, district, address


def _at(rng: Random, now: datetime, days_ago: float) -> datetime:
    """Return a moment during opening hours on the day `days_ago` days before now (never after now).

    The days count back from now itself, not from the start of today: early in the morning only a little of today
    has passed, so only a little of the history falls on it (counted from today's start, a whole day's purchases
    were squeezed into the hours before now).
    """
    r = rng.random()
    moment = (now - timedelta(days=days_ago)).replace(hour=_pick(rng, HOURS), minute=int(r * 60),
                                                      second=int(r * 3600) % 60, microsecond=0)
    return moment if moment <= now else now - timedelta(minutes=1 + int(r * 600))


def _between(rng: Random, now: datetime, start: datetime) -> datetime:
    """Return a moment in opening hours between start and now."""
    span = max((now - start).total_seconds() / 86400, 0.0)
    moment = _at(rng, now, rng.random() * span)
    if moment >= start:
        return moment
    # A start in the last hours (a customer who joined today): some moment since, so that a company's many
    # purchases do not all fall on the same minute.
    return min(now, start + (now - start) * rng.random()).replace(microsecond=0) if now > start else now


def _amount(rng: Random, low: int, high: int) -> Decimal:
    """Return a price in yuan: skewed to the low end, ending like shop prices do (.00, .90, .50)."""
    value = low + (high - low) * rng.random() ** 2.2
    cents = rng.choice((0, 0, 0, 90, 50, 80))
    return Decimal(f"{int(value)}.{cents:02d}")


_SHOP_PREFERENCE = {"悦享咖啡": "餐饮", "蜀香火锅": "餐饮", "星河影城": "影院", "生鲜超市": "超市",
                    "时尚女装馆": "服饰", "金饰珠宝": "珠宝", "童趣乐园": "儿童乐园", "运动城": "服饰"}
_COMPANY_SIZES = (CompanySize.MICRO, CompanySize.SMALL, CompanySize.SMALL, CompanySize.MEDIUM, CompanySize.LARGE)
_EMPLOYEES = {"白领", "工程师", "程序员", "会计", "销售经理", "产品经理", "设计师"}
_MAIL_BOXES = ("qq.com", "qq.com", "163.com", "126.com", "sina.com", "outlook.com", "139.com")


def generate_customer(rng: Random, *, now: datetime, owner_ids: list[int]) -> DemoCustomer:
    """Return one believable member-club customer with tags, consent, contacts and timeline (no database)."""
    r = rng.random
    is_company = r() < 0.03
    stage = _pick(rng, FUNNEL)
    rank = STAGE_RANK[stage]
    if is_company and rank < 2:
        # Companies buy gift cards and book the event space: they are further down the funnel.
        rank = 2 + int(r() * 3)
        stage = LifecycleStage.values[rank]
    source, first_channel = _pick(rng, SOURCES)
    created = _at(rng, now, HISTORY_DAYS * (1 - r() ** 0.5))
    orders_low, orders_high = ORDERS.get(stage, (0, 0))
    if orders_high:
        # A repeat buyer has been coming for a while: since the first contact, at most about one purchase a fortnight
        # (a company joined yesterday does not buy twenty times at the service desk by today).
        created = min(created, _at(rng, now, min(HISTORY_DAYS, orders_high * 14 * (1 + r()))))
    province, city, district, address = place(rng)
    c: dict[str, Any] = {
        "kind": CustomerKind.COMPANY.value if is_company else CustomerKind.INDIVIDUAL.value,
        "name": "", "gender": "", "birthday": None, "phone": "", "phone_alt": "", "email": "", "wechat_id": "",
        "province": province, "city": city, "district": district, "address": address,
        "company_name": "", "industry": "", "company_size": "", "occupation": "", "interests": "",
        "special_requests": "", "source": source, "lifecycle_stage": stage, "created_at": created,
    }
    demo = DemoCustomer(customer=c)
    tags = demo.tags
    interests: list[str] = []
    if is_company:
        c["name"], c["industry"] = company_name(rng)
        c["company_name"] = c["name"]
        c["company_size"] = rng.choice(_COMPANY_SIZES).value
        c["phone"] = mobile_number(rng)
        c["phone_alt"] = f"+8621{50_000_000 + int(r() * 19_999_999)}"
        c["email"] = f"hr@{name_pinyin(c['name'][2:4])[0] or 'corp'}{10 + int(r() * 89)}.com.cn"
        c["special_requests"] = rng.choice(("需要增值税专用发票", "团购礼品卡请开具明细", "活动场地需提前两周预订", ""))
        for i in range(1 + int(r() * 3)):
            demo.contacts.append(DemoContact(person_name(rng), rng.choice(CONTACT_TITLES), mobile_number(rng), i == 0))
        tags.append("团购客户")
    else:
        gender = Gender.FEMALE.value if r() < 0.58 else Gender.MALE.value
        c["gender"] = gender
        c["name"] = person_name(rng, gender)
        if r() < 0.8:
            age = int(18 + 52 * r() ** 1.6)
            c["birthday"] = (now - timedelta(days=age * 365 + int(r() * 365))).date()
        c["phone"] = mobile_number(rng)
        if r() < 0.35:
            box = rng.choice(_MAIL_BOXES)
            local = str(100_000 + int(r() * 3_999_000_000)) if box == "qq.com" else \
                f"{name_pinyin(c['name'])[0]}{1 + int(r() * 998)}"
            c["email"] = f"{local}@{box}"
        if r() < 0.3:
            c["wechat_id"] = f"wxid_{int(r() * 16**10):010x}"
        if r() < 0.7:
            c["occupation"] = occupation = _pick(rng, OCCUPATIONS)
            if occupation in _EMPLOYEES and r() < 0.5:
                c["company_name"] = company_name(rng)[0]
        if rank:
            interests = rng.sample(INTERESTS, rng.choice((0, 1, 2, 2, 3)))
            c["interests"] = "、".join(interests)
        if r() < 0.03:
            c["special_requests"] = rng.choice(SPECIAL_REQUESTS)
    tags.append(source)
    for interest in interests:
        tag = INTEREST_TAG.get(interest)
        if tag and tag not in tags:
            tags.append(tag)
    if "宠物" in interests or r() < 0.04:
        tags += rng.sample(TAG_GROUPS["宠物品种"], rng.choice((1, 1, 1, 2)))
    owner_id = None
    if owner_ids and (is_company or rank >= 3 or r() < 0.45):
        owner_id = owner_ids[int(r() * len(owner_ids))]
    c["owner_id"] = owner_id

    # The timeline: first contact, following the official account, joining the club, visits, purchases.
    events = demo.events
    events.append(DemoEvent("customer.created", created, first_channel, f"{source} · {MALL_NAME}", source))
    followed = joined = None
    if rank >= 1:
        followed = created if first_channel == Channel.WECHAT else \
            _between(rng, min(now, created + timedelta(days=30)), created)
        events.append(DemoEvent("wechat.followed", followed, Channel.WECHAT.value, MALL_NAME, "微信公众号"))
    # Some buyers never join the club (they pay at the till with their phone number): the program page compares
    # their repeat purchases with the members'.
    walk_in = stage == LifecycleStage.BUYER and not is_company and r() < 0.3
    if followed is not None and rank >= 2 and not walk_in:
        joined = _between(rng, min(now, followed + timedelta(days=60)), followed)
        events.append(DemoEvent("member.joined", joined, first_channel, "", source,
                                {"card": f"XH{int(r() * 10**9):09d}", "program_name": CLUB_NAME}))
    spent = Decimal("0")
    shops: list[str] = []
    for _i in range(rng.randint(orders_low, orders_high) if orders_high else 0):
        shop, floor, lo, hi = ("会员服务台", "1F", 2000, 50000) if is_company else _pick(rng, SHOPS)
        amount = _amount(rng, lo, hi)
        spent += amount
        shops.append(shop)
        at = _between(rng, now, joined or created)
        events.append(DemoEvent("order.paid", at, Channel.STORE.value, "", f"{floor} {shop}",
                                {"amount": str(amount), "currency": "CNY", "shop": shop,
                                 "order_no": f"{at:%Y%m%d}{int(r() * 10**6):06d}"}))
    for _i in range(int(r() * (1 + rank))):
        spot = rng.choice(VISIT_SPOTS)
        events.append(DemoEvent("store.visited", _between(rng, now, created), Channel.STORE.value,
                                spot, spot))
    if owner_id and r() < 0.5:
        for _i in range(1 + int(r() * 3)):
            events.append(DemoEvent("call.logged", _between(rng, now, created), Channel.PHONE.value,
                                    rng.choice(CALL_TOPICS), "", {"minutes": 1 + int(r() * 15)}, owner_id))
    if joined and r() < 0.05:
        events.append(DemoEvent("complaint.filed", _between(rng, now, joined), rng.choice(
            (Channel.STORE.value, Channel.PHONE.value, Channel.WECHAT.value)), rng.choice(COMPLAINTS), "会员服务台"))
        tags.append("投诉过")
    if joined and r() < 0.18:
        score = min(10, max(0, int(rng.gauss(6.5 + rank * 0.6, 2.2))))
        events.append(DemoEvent("survey.answered", _between(rng, now, joined), Channel.WECHAT.value,
                                f"购物体验满意度调查 · NPS {score}", "微信公众号",
                                {"survey": "购物体验满意度调查", "nps": score}))

    # Consent per channel, each with where it was given; the timeline shows the ones given.
    consents = demo.consents
    if followed:
        consents.append(DemoConsent(ConsentChannel.WECHAT.value, True, "微信公众号", followed))
    if joined:
        consents.append(DemoConsent(ConsentChannel.SMS.value, r() < 0.82, source, joined))
        if c["email"]:
            consents.append(DemoConsent(ConsentChannel.EMAIL.value, r() < 0.5, source, joined))
        if owner_id:
            consents.append(DemoConsent(ConsentChannel.PHONE.value, r() < 0.6, "门店登记", joined))
    elif r() < 0.3:
        consents.append(DemoConsent(ConsentChannel.SMS.value, r() < 0.7, source, created))
    for consent in consents:
        # Following the official account is the WeChat consent; the timeline shows it once.
        if consent.granted and consent.channel != ConsentChannel.WECHAT:
            events.append(DemoEvent("consent.granted", consent.recorded_at, consent.channel, "", consent.source,
                                    {"channel": consent.channel, "source": consent.source}))

    tier = ValueTier.HIGH if spent >= 10000 else ValueTier.MEDIUM if spent >= 2000 else ValueTier.LOW
    c["value_tier"] = tier.value
    if is_company or (rank >= 4 and tier != ValueTier.LOW):
        c["category"] = Category.KEY.value
        if rank >= 4 and tier == ValueTier.HIGH:
            tags.append("VIP")
    else:
        c["category"] = (Category.BASIC if rank >= 2 else Category.POTENTIAL).value
    if shops and r() < 0.5:
        favourite = _SHOP_PREFERENCE.get(max(set(shops), key=shops.count))
        if favourite and favourite not in tags:
            tags.append(favourite)
    events.sort(key=_occurred)
    c["updated_at"] = events[-1].occurred_at
    _search_keys(c)
    return demo


def _occurred(event: DemoEvent) -> datetime:
    return event.occurred_at


def _search_keys(c: dict[str, Any]) -> None:
    """Fill the search keys as `customer_prepare` does; the phones are generated in E.164 already."""
    c["email"] = c["email_normalized"] = normalize_email(c["email"])
    c["name_pinyin"], c["name_initials"] = name_pinyin(c["name"])
    c["phone_digits"] = digits = phone_search_digits(c["phone"])
    c["phone_reversed"] = digits[::-1]
    c["phone_alt_digits"] = phone_search_digits(c["phone_alt"])
    c["company_key"] = company_key(c["company_name"] or (c["name"] if c["kind"] == CustomerKind.COMPANY else ""))


def generate_customers(rng: Random, count: int, *, now: datetime = DEMO_NOW,
                       owner_ids: list[int] | None = None) -> Iterator[DemoCustomer]:
    """Yield `count` customers; the same seed and now give the same customers."""
    for _i in range(count):
        yield generate_customer(rng, now=now, owner_ids=owner_ids or [])


# ---------------------------------------------------------------------------------------------------------------
# Writing: plain multi-row inserts (COPY on PostgreSQL), a few times faster than building model instances for
# millions of rows. Columns the generator does not give get the model field's default, as bulk_create would.


class _Table:
    """An insert into one model's table with the given columns first and field defaults for the others."""

    def __init__(self, model, given: list[str], **constants: Any) -> None:
        fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
        self.table = model._meta.db_table
        rest = [f for name, f in fields.items() if name not in given]
        self.columns = [fields[name].column for name in given] + [f.column for f in rest]
        self.tail = tuple(self._adapt(f, constants[f.attname] if f.attname in constants else f.get_default())
                          for f in rest)
        self.adapters = [self._adapter(fields[name]) for name in given]
        self.sqlite = connection.vendor == "sqlite"

    @staticmethod
    def _adapter(f) -> Callable[[Any], Any] | None:
        kind = f.get_internal_type()
        if kind == "JSONField":
            return lambda v: json.dumps(v) if v else "{}"
        if kind == "DateTimeField" and connection.vendor == "sqlite":
            return _sqlite_datetime
        if kind == "DateField" and connection.vendor == "sqlite":
            return lambda v: v.isoformat() if v is not None else None
        return None

    def _adapt(self, f, value: Any) -> Any:
        return f.get_db_prep_save(value, connection)

    def insert(self, rows: list[tuple]) -> None:
        if not rows:
            return
        adapters = [(i, a) for i, a in enumerate(self.adapters) if a is not None]
        tail = self.tail
        prepared = []
        for row in rows:
            values = list(row)
            for i, adapt in adapters:
                values[i] = adapt(values[i])
            prepared.append((*values, *tail))
        columns = ", ".join(f'"{c}"' for c in self.columns)
        with connection.cursor() as cursor:
            if self.sqlite:
                marks = ", ".join("?" * len(self.columns))
                cursor.cursor.executemany(f'INSERT INTO "{self.table}" ({columns}) VALUES ({marks})', prepared)
            else:
                with cursor.cursor.copy(f'COPY "{self.table}" ({columns}) FROM STDIN') as copy:
                    for values in prepared:
                        copy.write_row(values)


def _sqlite_datetime(value: datetime | None) -> str | None:
    # What Django's SQLite backend stores: naive UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    if value is None:
        return None
    text = str(value.astimezone(UTC))
    return text[:26] if value.microsecond else text[:19]


CUSTOMER_COLUMNS = [
    "number", "public_id", "kind", "name", "name_pinyin", "name_initials", "gender", "birthday", "phone",
    "phone_alt", "email", "wechat_id", "province", "city", "district", "address", "company_name", "industry",
    "company_size", "occupation", "interests", "special_requests", "category", "value_tier", "lifecycle_stage",
    "source", "owner_id", "phone_digits", "phone_reversed", "phone_alt_digits", "email_normalized", "company_key",
    "created_at", "updated_at",
]


@contextmanager
def _sqlite_cache(kib: int = 256 * 1024):
    """On SQLite, give the connection a large page cache while loading: inserts into a dozen indexes in random
    key order (phones, public ids) otherwise spend their time re-reading index pages."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def demo_tags_ensure() -> dict[str, int]:
    """Create the demo tag groups if missing; return the tag ids by name."""
    wanted = [Tag(name=name, group=group, color=TAG_COLORS[group])
              for group, names in TAG_GROUPS.items() for name in names]
    Tag.objects.bulk_create(wanted, ignore_conflicts=True)
    return dict(Tag.objects.filter(name__in=[t.name for t in wanted]).values_list("name", "pk"))


def _write_chunk(batch: list[DemoCustomer], tag_ids: dict[str, int], tables: dict[str, _Table]) -> int:
    numbers = customer_number_next(count=len(batch))
    ids = new_public_ids(len(batch))
    tables["customer"].insert([(number, public_id, *(d.customer[k] for k in CUSTOMER_COLUMNS[2:]))
                               for d, number, public_id in zip(batch, numbers, ids, strict=True)])
    pks = dict(Customer.objects.filter(number__gte=numbers[0], number__lte=numbers[-1])
               .values_list("number", "pk"))
    links, consents, contacts, events = [], [], [], []
    for d, number in zip(batch, numbers, strict=True):
        pk = pks[number]
        created = d.customer["created_at"]
        links += [(pk, tag_ids[name], created) for name in dict.fromkeys(d.tags)]
        consents += [(pk, *consent) for consent in d.consents]
        contacts += [(pk, *contact, created, created) for contact in d.contacts]
        events += [(pk, *event) for event in d.events]
    tables["tag"].insert(links)
    tables["consent"].insert(consents)
    tables["contact"].insert(contacts)
    tables["event"].insert([(public_id, *event) for public_id, event in zip(new_public_ids(len(events)), events,
                                                                           strict=True)])
    return len(events)


def demo_customers_load(*, actor, count: int, seed: int, now: datetime = DEMO_NOW, owner_ids: list[int],
                        chunk: int = CHUNK, progress: Callable[[int, int], None] | None = None,
                        say: Callable[[str], None] | None = None) -> dict[str, int]:
    """Generate and write `count` demo customers in one transaction; audit the load once; return the counts."""
    rng = Random(seed)
    tag_ids = demo_tags_ensure()
    tables = {
        "customer": _Table(Customer, CUSTOMER_COLUMNS),
        "tag": _Table(CustomerTag, ["customer_id", "tag_id", "created_at"]),
        "consent": _Table(Consent, ["customer_id", *DemoConsent._fields]),
        "contact": _Table(Contact, ["customer_id", *DemoContact._fields, "created_at", "updated_at"]),
        # An event's created_at is when it was recorded: now, for all of them.
        "event": _Table(Event, ["public_id", "customer_id", *DemoEvent._fields], created_at=timezone.now()),
    }
    models = (Customer, CustomerTag, Consent, Contact, Event)
    # Into an empty archive, the indexes are built once at the end: sorting the keys is several times cheaper
    # than millions of inserts at random places of a dozen indexes (phones, names, public ids, times).
    empty = not any(model.objects.exists() for model in models)
    written = events = 0
    sizes = [min(chunk, count - start) for start in range(0, count, chunk)]
    generator = generate_customers(rng, count, now=now, owner_ids=owner_ids)

    def generate(size: int) -> list[DemoCustomer]:
        return [next(generator) for _i in range(size)]

    with (_sqlite_cache(), transaction.atomic(),
          _indexes_built_at_end(models if empty else (), say=say),
          ThreadPoolExecutor(max_workers=1) as producer):
        # The next chunk is generated in a second thread while this one is written: the database works
        # without the GIL, so the two overlap. One producer keeps the order, so the seed still decides all.
        pending = producer.submit(generate, sizes[0]) if sizes else None
        for following in [*sizes[1:], 0]:
            batch = pending.result()
            pending = producer.submit(generate, following) if following else None
            events += _write_chunk(batch, tag_ids, tables)
            written += len(batch)
            if progress:
                progress(written, count)
        audit_record(actor=actor, action="demo.load", object_type="customers.customer", via="system",
                     object_repr=MALL_NAME,
                     changes={"customers": [None, written], "events": [None, events], "seed": [None, seed],
                              "now": [None, now.isoformat()]})
    # Fresh statistics, so that the planner picks the search indexes right after a big load. A full ANALYZE
    # (about 10 s at a million customers): with a sample (analysis_limit), SQLite takes merged_into_id IS NULL
    # for selective and scans that index instead of the search key's.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"customers": written, "events": events}


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """Return (name, CREATE statement) of the table's indexes that no primary key or constraint owns."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
            "WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid) ORDER BY c.relname", [table])
    else:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                       "AND sql IS NOT NULL ORDER BY name", [table])
    return list(cursor.fetchall())


def _foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    """Return (name, definition) of the table's foreign keys (PostgreSQL)."""
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                   "AND contype = 'f' ORDER BY conname", [table])
    return list(cursor.fetchall())


@contextmanager
def _indexes_built_at_end(models, say: Callable[[str], None] | None = None):
    """Drop the secondary indexes of the models' tables (and on PostgreSQL their foreign keys), and create them
    again when the block ends: one sort per index, one join per key, instead of work for every row.

    Call inside the transaction of the load: if the block fails, the rollback brings them all back.
    """
    indexes: list[str] = []
    keys: list[tuple[str, str, str]] = []
    with connection.cursor() as cursor:
        if models and connection.vendor == "postgresql":
            # Run the checks still pending in this transaction (a --reset deletes rows): PostgreSQL alters no
            # table that has some. Then back to Django's deferred foreign keys.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for model in models:
            table = model._meta.db_table
            for name, create in _secondary_indexes(cursor, table):
                cursor.execute(f'DROP INDEX "{name}"')
                indexes.append(create)
            if connection.vendor == "postgresql":
                # Each row would otherwise queue a deferred check that runs one query at commit.
                for name, definition in _foreign_keys(cursor, table):
                    cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                    keys.append((table, name, definition))
    yield
    if not indexes and not keys:
        return
    if say:
        say(f"  building {len(indexes)} indexes{f' and checking {len(keys)} foreign keys' if keys else ''} …")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for create in indexes:
            cursor.execute(create)
        for table, name, definition in keys:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')


def demo_customers_reset() -> None:
    """Delete every customer and what hangs off them, and restart the customer numbers (demo databases only)."""
    for model in (PendingDispatch, Event, DuplicateCandidate, MergeRecord, ImportJob, CustomerTag, Consent, Contact):
        model.objects.all()._raw_delete(model.objects.db)
    Customer.objects.update(merged_into=None)
    Customer.objects.all()._raw_delete(Customer.objects.db)
    CustomerNumberSequence.objects.all().delete()


# ---------------------------------------------------------------------------------------------------------------
# The loader interface of `fidelis demo` (see fidelis.web.management.commands.demo).


def demo_load(ctx) -> dict[str, int]:
    """Load ctx.customers customers owned by the sales reps; print progress about ten times."""
    step = max(ctx.customers // 10, CHUNK)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done % step < CHUNK or done == total:
            ctx.write(f"  {done:,} / {total:,} customers ({time.monotonic() - started:.0f} s)")

    owner_ids = sorted(u.pk for u in ctx.users_with_role("sales"))
    return demo_customers_load(actor=ctx.actor, count=ctx.customers, seed=ctx.seed, now=ctx.now,
                               owner_ids=owner_ids, progress=progress, say=ctx.write)


def demo_reset(ctx) -> None:
    """Delete the customer archive (the demo's own data and anything else in it)."""
    demo_customers_reset()

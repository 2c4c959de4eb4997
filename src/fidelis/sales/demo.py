"""Demo data for sales: the mall's stores, a product catalogue, and an order for every historical purchase.

Runs after the customer archive's loader (before the member club's): every `order.paid` event of the demo timeline
gets its Order, with the same order number, amount, time and customer, at the store of its shop, with lines that
add up to the amount. No event is recorded: the timeline has the purchases already.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from math import ceil
from random import Random

from django.db import transaction
from django.utils import timezone

from fidelis.accounts.services import audit_record
from fidelis.core.bulk import rows_insert
from fidelis.core.models import new_public_ids
from fidelis.customers.demo import SHOPS
from fidelis.events.models import Event
from fidelis.sales.models import (
    Order,
    OrderChannel,
    OrderImport,
    OrderLine,
    PaymentMethod,
    Product,
    ProductCategory,
    Refund,
    RefundLine,
    SalesDay,
    SalesDayProduct,
    Store,
)
from fidelis.sales.rollups import rollups_rebuild

CHUNK = 5000
MAX_QUANTITY = {"生鲜超市": 12, "悦享咖啡": 6, "会员服务台": 10}
DESK = "会员服务台"
# shop → (sku prefix, parent category, category, [(product, price in yuan)])
CATALOGUE: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {
    "悦享咖啡": ("CF", "餐饮", "咖啡饮品", [
        ("美式咖啡", "28"), ("拿铁", "32"), ("卡布奇诺", "32"), ("焦糖玛奇朵", "36"), ("摩卡", "35"), ("澳白", "34"),
        ("冷萃咖啡", "36"), ("抹茶拿铁", "34"), ("生椰拿铁", "35"), ("手冲单品咖啡", "48"), ("牛角包", "18"),
        ("提拉米苏", "38"), ("芝士蛋糕", "36"), ("咖啡豆 250g", "88"), ("挂耳咖啡礼盒", "128"), ("随行杯", "79")]),
    "蜀香火锅": ("HG", "餐饮", "火锅", [
        ("双人套餐", "298"), ("四人套餐", "568"), ("六人家庭套餐", "798"), ("鸳鸯锅底", "58"), ("麻辣牛油锅底", "68"),
        ("精品肥牛", "68"), ("鲜毛肚", "58"), ("鸭血", "28"), ("虾滑", "48"), ("手切羊肉", "72"), ("黄喉", "42"),
        ("酸梅汤（扎）", "32"), ("蔬菜拼盘", "36"), ("红糖糍粑", "26"), ("冰粉", "12")]),
    "星河影城": ("MV", "休闲娱乐", "电影", [
        ("2D 电影票", "45"), ("3D 电影票", "60"), ("IMAX 电影票", "90"), ("杜比影厅电影票", "85"), ("4DX 电影票", "110"),
        ("儿童票", "35"), ("情侣套票", "128"), ("单人爆米花套餐", "39"), ("双人爆米花套餐", "59"), ("大桶爆米花", "32"),
        ("可乐", "15"), ("观影年卡", "699")]),
    "生鲜超市": ("SM", "超市", "生鲜食品", [
        ("有机蔬菜礼包", "39.90"), ("进口香蕉 1kg", "12.80"), ("阳光玫瑰葡萄", "59.90"), ("赣南脐橙 5kg", "49.90"),
        ("澳洲牛排 200g", "79"), ("三文鱼刺身 300g", "89"), ("鲜鸡蛋 30 枚", "26.80"), ("纯牛奶 250ml×12", "59.90"),
        ("五常大米 5kg", "69.90"), ("压榨花生油 5L", "119"), ("厨房纸巾 6 卷", "29.90"), ("洗衣液 3kg", "49.90"),
        ("进口红酒", "168"), ("坚果礼盒", "199"), ("大闸蟹礼券", "398"), ("年货礼包", "488")]),
    "时尚女装馆": ("WF", "服饰", "女装", [
        ("真丝连衣裙", "1299"), ("羊毛大衣", "1999"), ("针织开衫", "599"), ("雪纺衬衫", "399"), ("高腰阔腿裤", "459"),
        ("半身长裙", "499"), ("羽绒服", "1599"), ("牛仔外套", "699"), ("基础 T 恤", "199"), ("西装套装", "1799"),
        ("真丝丝巾", "299"), ("通勤手提包", "899")]),
    "金饰珠宝": ("JW", "珠宝", "黄金珠宝", [
        ("足金手链", "3680"), ("足金项链", "5280"), ("足金吊坠", "1880"), ("古法金手镯", "12800"),
        ("钻石戒指 0.3 克拉", "8999"), ("钻石项链", "6999"), ("18K 金耳钉", "1599"), ("珍珠项链", "2999"),
        ("翡翠手镯", "19800"), ("生肖金章", "2680"), ("婚嫁三金套装", "19999"), ("银饰手链", "599"),
        ("黄金转运珠", "899")]),
    "数码港": ("DG", "数码家电", "数码", [
        ("智能手机", "5999"), ("旗舰手机", "8999"), ("平板电脑", "3299"), ("轻薄笔记本", "6499"), ("游戏本", "9999"),
        ("无线降噪耳机", "1299"), ("蓝牙音箱", "499"), ("智能手表", "1999"), ("运动手环", "299"),
        ("充电宝 20000mAh", "199"), ("快充数据线", "59"), ("手机壳", "99"), ("游戏手柄", "399"), ("机械键盘", "459"),
        ("家用投影仪", "2999")]),
    "萌宠之家": ("PT", "宠物", "宠物用品", [
        ("天然猫粮 2kg", "129"), ("无谷狗粮 10kg", "459"), ("猫砂 10L", "59"), ("冻干零食", "89"), ("猫抓板", "69"),
        ("宠物牵引绳", "79"), ("自动饮水机", "199"), ("宠物窝", "259"), ("宠物洗护套餐", "168"),
        ("大型犬美容", "299"), ("驱虫药", "139"), ("猫罐头 24 罐", "189"), ("宠物航空箱", "399"), ("逗猫棒", "29")]),
    "童趣乐园": ("KD", "休闲娱乐", "儿童乐园", [
        ("单次畅玩票", "98"), ("亲子畅玩票", "128"), ("10 次畅玩卡", "880"), ("月卡", "599"), ("生日派对套餐", "1999"),
        ("手工 DIY 课", "150"), ("儿童攀岩体验", "120"), ("蹦床乐园票", "88"), ("积木益智玩具", "299"),
        ("毛绒玩偶", "99"), ("遥控赛车", "259")]),
    "书香阁": ("BK", "图书文具", "图书", [
        ("畅销小说", "49"), ("儿童绘本", "39.80"), ("历史读物", "68"), ("经管图书", "59"), ("考试教辅", "45"),
        ("精装典藏版", "128"), ("钢笔礼盒", "199"), ("手账本", "39"), ("文具套装", "59"), ("书签礼盒", "29"),
        ("阅读年卡", "199"), ("地球仪", "89")]),
    "运动城": ("SP", "服饰", "运动户外", [
        ("跑步鞋", "699"), ("篮球鞋", "899"), ("运动 T 恤", "199"), ("速干运动裤", "299"), ("瑜伽垫", "159"),
        ("瑜伽服套装", "399"), ("羽毛球拍", "459"), ("篮球", "229"), ("运动背包", "329"), ("冲锋衣", "1299"),
        ("登山鞋", "899"), ("健身手套", "79")]),
    "美妆集合店": ("BT", "美妆个护", "美妆", [
        ("保湿精华液", "599"), ("修护面霜", "899"), ("氨基酸洁面乳", "129"), ("爽肤水", "259"), ("防晒霜", "199"),
        ("口红", "320"), ("粉底液", "450"), ("眼影盘", "520"), ("香水 50ml", "980"), ("补水面膜 10 片", "199"),
        ("卸妆油", "239"), ("护手霜礼盒", "168"), ("美妆礼盒", "1299")]),
    DESK: ("GC", "礼品卡", "储值礼品卡", [
        ("商场礼品卡 500 元", "500"), ("商场礼品卡 1000 元", "1000"), ("商场礼品卡 2000 元", "2000"),
        ("商场礼品卡 5000 元", "5000"), ("团购储值卡 10000 元", "10000")]),
}
PAYMENTS = ((PaymentMethod.WECHAT_PAY, 46), (PaymentMethod.ALIPAY, 26), (PaymentMethod.CARD, 16),
            (PaymentMethod.CASH, 6), (PaymentMethod.GIFT_CARD, 6))


@dataclass(frozen=True)
class _Item:
    pk: int
    category_id: int
    price: Decimal


def demo_stores() -> list[tuple[str, str]]:
    """Return (code, name) of the mall's stores: the shops of the customer demo, numbered per floor."""
    shops = [(shop, floor) for shop, floor, _lo, _hi in SHOPS[0]] + [(DESK, "1F")]
    per_floor: dict[str, int] = {}
    stores = []
    for shop, floor in sorted(shops, key=lambda s: (s[1] != "B1", s[1], s[0])):
        per_floor[floor] = per_floor.get(floor, 0) + 1
        stores.append((f"{floor}-{per_floor[floor]:02d}", shop))
    return stores


def demo_catalogue_load() -> dict[str, int]:
    """Create the stores, categories and products of the demo mall (bulk); return the counts."""
    stores = Store.objects.bulk_create([Store(code=code, name=name) for code, name in demo_stores()])
    parents = {name: ProductCategory(name=name) for name in dict.fromkeys(c[1] for c in CATALOGUE.values())}
    ProductCategory.objects.bulk_create(parents.values())
    parents = dict(ProductCategory.objects.filter(name__in=parents).values_list("name", "pk"))
    leaves = ProductCategory.objects.bulk_create([ProductCategory(name=leaf, parent_id=parents[parent])
                                                  for _prefix, parent, leaf, _items in CATALOGUE.values()])
    leaf_ids = dict(ProductCategory.objects.filter(name__in=[c.name for c in leaves]).values_list("name", "pk"))
    products = [Product(sku=f"{prefix}-{n:03d}", name=name, category_id=leaf_ids[leaf], list_price=Decimal(price))
                for prefix, _parent, leaf, items in CATALOGUE.values() for n, (name, price) in enumerate(items, 1)]
    Product.objects.bulk_create(products)
    return {"stores": len(stores), "products": len(products)}


def _choose_lines(rng: Random, amount: Decimal, items: list[_Item], max_quantity: int) -> list[tuple]:
    """Return lines (item, quantity, discount, amount) of the store's products that add up to `amount` exactly.

    A first few lines at list price, then a last line whose quantity × price covers the rest with the smallest
    discount (a believable promotion rather than a made-up price).
    """
    lines = []
    remaining = amount
    for _i in range(rng.choice((0, 0, 0, 1, 1, 2))):
        cheap = [item for item in items if item.price <= remaining / 2]
        if not cheap:
            break
        item = rng.choice(cheap)
        lines.append((item, 1, Decimal("0.00"), item.price))
        remaining -= item.price
    options = []
    for item in items:
        quantity = max(1, ceil(remaining / item.price))
        if quantity <= max_quantity:
            discount = quantity * item.price - remaining
            options.append((discount / (quantity * item.price), item, quantity, discount))
    if options:
        options.sort(key=lambda o: o[0])
        _share, item, quantity, discount = rng.choice(options[:3])
    else:
        item = max(items, key=lambda i: i.price)
        quantity = ceil(remaining / item.price)
        discount = quantity * item.price - remaining
    lines.append((item, quantity, discount, remaining))
    return lines


def demo_orders_load(*, seed: int, chunk: int = CHUNK) -> dict[str, int]:
    """Write an Order with lines for every order.paid event of the timeline; record no event. Return the counts."""
    rng = Random(seed)
    store_of = {name: pk for pk, name in Store.objects.values_list("pk", "name")}
    shop_of = {pk: name for name, pk in store_of.items()}
    by_store: dict[int, list[_Item]] = {}
    prefixes = {prefix: shop for shop, (prefix, *_rest) in CATALOGUE.items()}
    for pk, sku, category_id, price in Product.objects.values_list("pk", "sku", "category_id", "list_price"):
        shop = prefixes.get(sku.split("-")[0])
        if shop in store_of:
            by_store.setdefault(store_of[shop], []).append(_Item(pk, category_id, price))
    payments = [method for method, weight in PAYMENTS for _i in range(weight)]
    taken = set(Order.objects.values_list("order_no", flat=True))
    events = (Event.objects.filter(type="order.paid").order_by("pk")
              .values_list("customer_id", "occurred_at", "payload"))
    orders = lines = skipped = 0
    batch: list[tuple] = []

    def flush() -> None:
        nonlocal lines
        if not batch:
            return
        rows_insert(Order, ("public_id", "order_no", "customer_id", "channel", "store_id", "payment_method",
                            "subtotal", "paid_amount", "paid_at", "created_at"),
                    [row[:10] for row in batch], fixed={"discount": Decimal("0.00"), "note": "",
                                                        "idempotency_key": None})
        pks = dict(Order.objects.filter(order_no__in=[row[1] for row in batch]).values_list("order_no", "pk"))
        line_rows = [(pks[row[1]], item.pk, item.category_id, quantity, item.price, discount, amount)
                     for row in batch for item, quantity, discount, amount in row[10]]
        rows_insert(OrderLine, ("order_id", "product_id", "category_id", "quantity", "unit_price",
                                "discount", "amount"), line_rows)
        lines += len(line_rows)
        batch.clear()

    ids = iter(())
    for customer_id, occurred_at, payload in events.iterator(chunk_size=chunk):
        number = str(payload.get("order_no") or "")
        store_id = store_of.get(str(payload.get("shop") or payload.get("store") or ""))
        try:
            amount = Decimal(str(payload.get("amount"))).quantize(Decimal("0.01"))
        except ArithmeticError:
            amount = Decimal("0")
        if not number or number in taken or store_id is None or amount <= 0 or store_id not in by_store:
            skipped += 1
            continue
        taken.add(number)
        chosen = _choose_lines(rng, amount, by_store[store_id], MAX_QUANTITY.get(shop_of[store_id], 5))
        public_id = next(ids, None)
        if public_id is None:
            ids = iter(new_public_ids(chunk))
            public_id = next(ids)
        batch.append((public_id, number, customer_id, OrderChannel.STORE.value, store_id, rng.choice(payments),
                      amount, amount, occurred_at, occurred_at, chosen))
        orders += 1
        if len(batch) >= chunk:
            flush()
    flush()
    return {"orders": orders, "order lines": lines, "skipped": skipped}


# ---------------------------------------------------------------------------------------------------------------
# The loader interface of `fidelis demo` (see fidelis.web.management.commands.demo).


def demo_load(ctx) -> dict[str, int]:
    started = time.monotonic()
    with transaction.atomic():
        catalogue = demo_catalogue_load()
        done = demo_orders_load(seed=ctx.seed)
        rollups_rebuild()
        audit_record(actor=ctx.actor, action="demo.load", object_type="sales.order", via="system",
                     object_repr="sales", changes={"orders": [None, done["orders"]],
                                                   "products": [None, catalogue["products"]],
                                                   "at": [None, timezone.now().isoformat()]})
    ctx.write(f"  {done['orders']:,} orders with {done['order lines']:,} lines at {catalogue['stores']} stores "
              f"({time.monotonic() - started:.0f} s)")
    return {"products": catalogue["products"], "orders": done["orders"], "order lines": done["order lines"]}


def demo_reset(ctx) -> None:
    """Delete every order, refund, import, product, category and store."""
    for model in (SalesDay, SalesDayProduct, RefundLine, Refund, OrderLine, Order, OrderImport, Product):
        model.objects.all()._raw_delete(model.objects.db)
    while ProductCategory.objects.exists():
        ProductCategory.objects.filter(children__isnull=True).delete()
    Store.objects.all().delete()

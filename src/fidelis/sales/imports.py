"""Historical orders from CSV (UTF-8 or GBK) or XLSX: upload, column mapping, dry run, then one bulk transaction.

One row per order line; the rows of an order share its order number (and its customer, time, store, channel,
payment method and paid amount, taken from its first row). The file is read with the customer import's helpers
(`fidelis.customers.imports`). The import writes orders, lines and each order's `order.paid` event with the
historical payment time and the payload `order_create` writes, in bulk, the events recorded as history
(`record_event_rows(historical=True)`): the handlers that take history see them (the customers who bought move to
"buyer" in the loyalty funnel), live processing does not (no webhook, no follow-up task, no points now); the
member club's back-fill (`loyalty.backfill.orders_backfill`, which reads order.paid events it has not applied yet)
turns them into points, purchases and tiers when it runs.
"""

import marshal
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from functools import partial
from itertools import chain
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.bulk import rows_insert
from fidelis.core.errors import DomainError, ImportCode, PermissionDenied
from fidelis.core.imports import (
    CheckedDamaged,
    FirstErrors,
    FirstHints,
    ImportMode,
    ImportStatus,
    checked_key,
    checked_name,
    checked_records,
    checked_write,
    in_values,
    job_data,
    job_table,
    read_upload,
    run_prepare,
    sheet_apply,
    sheet_read,
    warnings_report,
)
from fidelis.core.models import new_public_ids
from fidelis.core.tabular import header_key
from fidelis.customers.imports import fast_mobile
from fidelis.customers.normalize import InvalidPhone, nfkc, normalize_phone, phone_search_digits
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.services import record_event_rows
from fidelis.sales.models import Order, OrderChannel, OrderImport, OrderLine, PaymentMethod, Product, Store
from fidelis.sales.rollups import local_day, rollup_orders
from fidelis.sales.services import CURRENCY, MAX_MONEY, MAX_QUANTITY, order_refund, paid_event_key_for

IGNORE = "ignore"
CENT = Decimal("0.01")
CHECKED_FORMAT = 4  # of the parsed rows the dry run stores for the import
CHUNK_ORDERS = 5000  # order numbers parsed, stored, checked and imported at a time
ORDER_FIELDS = ("order_no", "customer_number", "phone", "paid_at", "store", "channel", "payment_method",
                "paid_amount")
LINE_FIELDS = ("sku", "quantity", "unit_price", "discount", "amount")
IMPORT_FIELDS = (*ORDER_FIELDS, *LINE_FIELDS)
REQUIRED = ("order_no", "paid_at", "sku", "quantity")

# Header words (lower case, no spaces or punctuation) that name a field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_no": ("订单号", "订单编号", "单号", "订单", "小票号", "orderno", "ordernumber", "order", "orderid"),
    "customer_number": ("客户编号", "客户号", "会员编号", "customernumber", "customerno", "customer"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "联络电话", "行动电话", "phone", "mobile", "tel"),
    "paid_at": ("支付时间", "付款时间", "下单时间", "交易时间", "日期", "时间", "paidat", "date", "time", "datetime"),
    "store": ("门店", "门店编码", "门店代码", "店铺", "商户", "store", "storecode", "shop"),
    "channel": ("渠道", "销售渠道", "channel"),
    "payment_method": ("支付方式", "付款方式", "paymentmethod", "payment"),
    "paid_amount": ("实付金额", "实付", "实收金额", "订单金额", "paidamount", "total"),
    "sku": ("sku", "商品编码", "商品编号", "货号", "条码", "productcode", "itemcode"),
    "quantity": ("数量", "件数", "quantity", "qty"),
    "unit_price": ("单价", "售价", "价格", "unitprice", "price"),
    "discount": ("折扣", "优惠", "折扣金额", "优惠金额", "discount"),
    "amount": ("金额", "小计", "行金额", "商品金额", "amount", "linetotal"),
}
_ALIAS_TO_FIELD = {alias: f for f, aliases in HEADER_ALIASES.items() for alias in aliases}
CHANNEL_WORDS = {"门店": "store", "线下": "store", "实体店": "store", "网店": "online", "线上": "online",
                 "电商": "online", "商城": "online", "小程序": "wechat", "微信": "wechat", "微信小程序": "wechat",
                 "电话": "phone", "电话订购": "phone"}
PAYMENT_WORDS = {"微信": "wechat_pay", "微信支付": "wechat_pay", "支付宝": "alipay", "银行卡": "card", "刷卡": "card",
                 "信用卡": "card", "现金": "cash", "礼品卡": "gift_card", "储值卡": "gift_card", "转账": "transfer",
                 "对公转账": "transfer", "其他": "other"}
TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日",
                "%Y.%m.%d %H:%M", "%Y.%m.%d", "%Y%m%d")
_SLASH_TIME = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")


def _field_label(name: str) -> str:
    labels = {"order_no": _("order number"), "customer_number": _("customer number"), "phone": _("mobile phone"),
              "paid_at": _("paid at"), "store": _("store"), "channel": _("channel"),
              "payment_method": _("payment method"), "paid_amount": _("paid amount"), "sku": _("SKU"),
              "quantity": _("quantity"), "unit_price": _("unit price"), "discount": _("line discount"),
              "amount": _("line amount")}
    return labels[name]


def import_field_choices() -> list[tuple[str, str]]:
    """Return the fields a column can be mapped to, with their labels, and "ignore"."""
    return [(IGNORE, _("(ignore)"))] + [(f, _field_label(f)) for f in IMPORT_FIELDS]


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Return a guess of the field each column holds (column index → field or "ignore")."""
    mapping, taken = {}, set()
    for index, header in enumerate(headers):
        key = header_key(header)
        name = _ALIAS_TO_FIELD.get(key) or (key if key in IMPORT_FIELDS else None)
        mapping[str(index)] = name if name and name not in taken else IGNORE
        if name:
            taken.add(name)
    return mapping


def _require(actor) -> None:
    if not has_capability(actor, "order.import"):
        raise PermissionDenied(_("You may not import orders."), code=ImportCode.FORBIDDEN)


@transaction.atomic(durable=True)
def order_import_create(*, actor, uploaded_file) -> OrderImport:
    """Store an uploaded CSV/XLSX file of order lines, read its header row and guess the column mapping."""
    _require(actor)
    upload = read_upload(uploaded_file, "orders.csv")
    job = OrderImport(file_name=upload.name, encoding=upload.encoding, sheets=upload.sheets, sheet=upload.sheet,
                      headers=upload.headers, mapping=guess_mapping(upload.headers), total_rows=upload.rows,
                      created_by=actor if actor.is_authenticated else None)
    job.file.save(upload.name, ContentFile(upload.data), save=False)
    job.save()
    audit_record(actor=actor, action="order.import_upload", obj=job,
                 changes={"file": [None, upload.name], "rows": [None, upload.rows]})
    return job


@transaction.atomic(durable=True)
def order_import_sheet_choose(*, actor, job: OrderImport, sheet: str) -> OrderImport:
    """Read the workbook's sheet `sheet` instead: its header row, a new guess of the mapping, to be checked again."""
    _require(actor)
    upload = sheet_read(job, sheet)
    changes = sheet_apply(job, upload, guess_mapping(upload.headers))
    job.save()
    audit_record(actor=actor, action="order.import_sheet", obj=job, changes=changes)
    return job


def _clean_mapping(job: OrderImport, mapping: dict[str, str]) -> dict[str, int]:
    """Return field → column index; refuse unknown fields, a field mapped twice, or a required one missing."""
    columns: dict[str, int] = {}
    for key, name in (mapping or {}).items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            continue
        if name in (IGNORE, "", None) or not 0 <= index < len(job.headers):
            continue
        if name not in IMPORT_FIELDS:
            raise DomainError(_("Unknown field: %(field)s") % {"field": name}, code=ImportCode.UNKNOWN_FIELD, field="mapping")
        if name in columns:
            raise DomainError(_("Two columns are mapped to “%(field)s”.") % {"field": _field_label(name)},
                              code=ImportCode.MAPPED_TWICE, field="mapping")
        columns[name] = index
    for name in REQUIRED:
        if name not in columns:
            raise DomainError(_("Map one column to “%(field)s”.") % {"field": _field_label(name)},
                              code=ImportCode.UNMAPPED, field="mapping")
    if "customer_number" not in columns and "phone" not in columns:
        raise DomainError(_("Map one column to the customer number or the mobile phone."), code=ImportCode.UNMAPPED,
                          field="mapping")
    return columns


@dataclass(slots=True)
class _Order:
    order_no: str
    row: int  # the first row
    customer_key: tuple[str, str]  # ("number" | "phone", value)
    paid_at: datetime
    store: str
    channel: str
    payment_method: str
    paid_amount: Decimal | None
    rows: list[int] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)  # (sku, quantity, unit_price or None, discount, amount or None)
    customer_id: int | None = None


@dataclass(slots=True)
class _Refund:
    """The refund rows (negative quantities) of one stored order: what order_refund is asked to give back."""

    row: int  # the first row
    rows: list[int] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)  # (sku, quantity, amount or None, row)
    bad: bool = False

    def amount(self) -> Decimal | None:
        """Return the amounts of the rows added up, or None when a row gives none (the lines' value is refunded)."""
        amounts = [line[2] for line in self.lines]
        return None if not amounts or None in amounts else sum(amounts, Decimal("0.00"))


@dataclass(slots=True)
class _Parsed:
    """The orders and refunds of a run of order numbers, parsed, with the errors of their rows."""

    orders: dict[str, _Order] = field(default_factory=dict)
    refunds: dict[str, _Refund] = field(default_factory=dict)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, message)
    bad_orders: set[str] = field(default_factory=set)
    bad_rows: set[int] = field(default_factory=set)
    # (row, order number, public id of the stored order) of the orders whose number is stored already
    hints: list[tuple[int, str, str]] = field(default_factory=list)

    def error(self, row: int, column: str, message: str, order_no: str = "") -> None:
        self.bad_rows.add(row)
        if order_no:
            self.bad_orders.add(order_no)
        self.errors.append((row, column, str(message)))


class _Summary:
    """What checking the whole file found, as the report shows it: the first errors, the counts, the warnings."""

    def __init__(self) -> None:
        self.errors = FirstErrors()
        self.bad_rows = 0
        self.total = 0
        self.good_orders = self.good_lines = self.good_refunds = 0
        self.hints = FirstHints()
        self.warnings: list[dict[str, Any]] = []  # cells read with a doubt
        self.warning_count = 0

    def add(self, parsed: _Parsed, checked: "_Checked") -> None:
        for error in parsed.errors:
            self.errors.add(*error)
        for row, order_no, stored in parsed.hints:
            self.hints.add(row, "order_no", order_no, order=stored)
        self.bad_rows += len(parsed.bad_rows)
        self.good_orders += len(checked.orders)
        self.good_lines += checked.lines
        self.good_refunds += len(checked.refunds)


# An amount as shops write it: "1,234.50", "1234.5元", "¥19.90", "￥19.9" (full width), "RMB 88", "-¥30".
_MONEY = re.compile(r"([-+]?)\s*(?:¥|rmb|cny|人民币)?\s*([-+]?)([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*(?:元|块|rmb|cny)?",
                    re.IGNORECASE)
PRICE_PLACES = Decimal("0.000001")


def _money(text: str, *, signed: bool = False, places: Decimal = CENT) -> Decimal | None:
    """Return the amount of a cell rounded half up to `places` (cents), or None when it is none (or negative,
    unless `signed`)."""
    match = _MONEY.fullmatch(nfkc(text).strip())
    if match is None:
        return None
    try:
        value = Decimal(match.group(3).replace(",", ""))
    except InvalidOperation:
        return None
    if (match.group(1) + match.group(2)).count("-") == 1:
        value = -value
    if not value.is_finite() or (value < 0 and not signed) or abs(value) > MAX_MONEY:
        return None
    value = value.quantize(places, rounding=ROUND_HALF_UP)
    return value.quantize(CENT) if places != CENT and value == value.quantize(CENT) else value


# Excel's Chinese date and time: "2024/3/5 下午 3:04", "2024年3月5日 15:04:05", "2024-03-05 上午9:30".
_CN_TIME = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?\s*"
                      r"(?:(上午|下午|中午|晚上|am|pm)\s*)?(?:([0-9]{1,2})\s*[:时]\s*([0-9]{1,2})\s*分?"
                      r"(?:\s*[:]\s*([0-9]{1,2})\s*秒?)?)?\s*(上午|下午|晚上|am|pm)?", re.IGNORECASE)
_AFTERNOON = {"下午", "晚上", "pm"}


def _cn_time(text: str) -> datetime | None:
    """Return the naive time of a Chinese (or AM/PM) date and time, noon for a day without a time, or None."""
    match = _CN_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, before, hour, minute, second, after = match.groups()
    if hour is None and (before or after):
        return None
    half = (before or after or "").lower()
    hour_value = 12 if hour is None else int(hour)
    if half and hour is not None and 0 < hour_value <= 12:
        if half in _AFTERNOON and hour_value < 12 or half == "中午" and hour_value < 11:
            hour_value += 12
        elif half in ("上午", "am") and hour_value == 12:
            hour_value = 0
    try:
        return datetime(int(year), int(month), int(day), hour_value, int(minute or 0), int(second or 0))
    except ValueError:
        return None


def _whole(text: str) -> int | None:
    """Return the whole number of a cell ("3", "3.0"), or None."""
    if text.isdigit():
        return int(text)
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() else None


def _time(text: str, tz) -> datetime | None:
    text = nfkc(text).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
        match = _SLASH_TIME.fullmatch(text)
        if match is not None:
            # The commonest export format, read without strptime, which gives the same (or fails the same).
            try:
                moment = datetime(*(int(part) for part in match.groups() if part is not None))
            except ValueError:
                moment = None
    if moment is None:
        for fmt in TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            moment = _cn_time(text)
        if moment is None:
            return None
    if len(text) <= 10 and moment.hour == moment.minute == 0:
        moment = moment.replace(hour=12)  # a day without a time: noon, so that no time zone moves it to another day
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _choice(text: str, words: dict[str, str], choices) -> str | None:
    key = text.strip().lower()
    if key in choices.values:
        return key
    key = header_key(text)
    if key in words:
        return words[key]
    labels = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            labels.update({header_key(str(label)): value for value, label in choices.choices})
    return labels.get(key)


@contextmanager
def _by_order(rows: Iterable[tuple[int, list[str]]], order_index: int) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """Give the rows again ordered by their order number, then as in the file, from a scratch database on disk: the
    rows of an order may lie anywhere in a file, and memory must not grow with the file."""
    with tempfile.TemporaryDirectory(prefix="fidelis-orders-") as folder:
        scratch = sqlite3.connect(os.path.join(folder, "rows.sqlite3"))
        try:
            scratch.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16384;"
                                  "CREATE TABLE row (order_no TEXT, number INTEGER, cells BLOB);")
            scratch.executemany("INSERT INTO row VALUES (?, ?, ?)",
                                ((cells[order_index] if order_index < len(cells) else "", number, marshal.dumps(cells))
                                 for number, cells in rows))
            yield ((number, marshal.loads(cells)) for number, cells in
                   scratch.execute("SELECT number, cells FROM row ORDER BY order_no, number"))
        finally:
            scratch.close()


def _parse_rows(headers: list[str], rows: Iterable[tuple[int, list[str]]], columns: dict[str, int]
                ) -> Iterator[_Parsed]:
    """Check every row on its own and each order's rows against its first row (the database is not asked). The
    rows come ordered by order number: yield their orders and refunds a run of CHUNK_ORDERS order numbers at a
    time."""
    parsed = _Parsed()
    header = {name: headers[index] if index < len(headers) else name for name, index in columns.items()}
    tz = timezone.get_current_timezone()
    now = timezone.now()
    channels: dict[str, str | None] = {}
    payments: dict[str, str | None] = {}
    times: dict[str, datetime | None] = {}
    by_store, online, other_payment = OrderChannel.STORE.value, OrderChannel.ONLINE.value, PaymentMethod.OTHER.value
    # Files repeat times, channels and amounts: each distinct text is read once.
    moneys: dict[str, Decimal | None] = {}
    prices: dict[str, Decimal | None] = {}  # unit prices, kept to the sixth place until the line is checked
    zero = Decimal("0.00")
    # Unmapped fields read an empty cell added at the end of every row (cells are stripped by the reader).
    blank = max(columns.values()) + 1
    at = {name: columns.get(name, blank) for name in IMPORT_FIELDS}
    i_order, i_number, i_phone, i_time, i_store = (at[n] for n in ("order_no", "customer_number", "phone",
                                                                      "paid_at", "store"))
    i_channel, i_payment, i_paid, i_sku, i_quantity = (at[n] for n in ("channel", "payment_method", "paid_amount",
                                                                          "sku", "quantity"))
    money_fields = [(name, at[name]) for name in ("unit_price", "discount", "amount")]
    orders = parsed.orders
    group = ""
    last_head: tuple = ()
    last_known: tuple = ()

    def read_head(order_no: str, customer_number: str, phone: str, raw_time: str, store: str, raw_channel: str,
                  raw_payment: str, raw_paid: str) -> tuple:
        """Read the order's cells of a row: (why the row is skipped or None, errors, values of the order)."""
        if not order_no or len(order_no) > 40 or any(c.isspace() for c in order_no):
            return ((header["order_no"], _("An order number has 1 to 40 characters and no spaces."), False),
                    *([None] * 9))
        customer_number = customer_number.upper()
        if customer_number:
            customer_key = ("number", customer_number)
        elif phone:
            customer_key = ("phone", phone)
        else:
            return ((header.get("customer_number") or header["phone"],
                     _("Name the customer: customer number or mobile phone."), True), *([None] * 9))
        errors = []
        if raw_time not in times:
            times[raw_time] = _time(raw_time, tz) if raw_time else None
        paid_at = times[raw_time]
        if paid_at is None:
            errors.append((header["paid_at"], _("“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM).")
                           % {"value": raw_time}))
        elif paid_at > now:
            errors.append((header["paid_at"], _("The payment time lies in the future.")))
        if raw_channel:
            if raw_channel not in channels:
                channels[raw_channel] = _choice(raw_channel, CHANNEL_WORDS, OrderChannel)
            channel = channels[raw_channel]
            if channel is None:
                errors.append((header["channel"], _("“%(value)s” is not a channel.") % {"value": raw_channel}))
        else:
            channel = by_store if store else online
        payment = other_payment
        if raw_payment:
            if raw_payment not in payments:
                payments[raw_payment] = _choice(raw_payment, PAYMENT_WORDS, PaymentMethod)
            payment = payments[raw_payment]
            if payment is None:
                errors.append((header["payment_method"], _("“%(value)s” is not a payment method.")
                               % {"value": raw_payment}))
        paid_amount = None
        if raw_paid:
            if raw_paid not in moneys:
                moneys[raw_paid] = _money(raw_paid)
            paid_amount = moneys[raw_paid]
            if paid_amount is None:
                errors.append((header["paid_amount"], _("“%(value)s” is not an amount.") % {"value": raw_paid}))
        return (None, errors, customer_key, paid_at, store, channel, payment, paid_amount, raw_channel, raw_paid)

    def read_refund(number: int, row: list[str], raw_quantity: str) -> None:
        """Read a row of negative quantity: the products of a stored order given back."""
        order_no = row[i_order]
        if not order_no or len(order_no) > 40 or any(c.isspace() for c in order_no):
            parsed.error(number, header["order_no"], _("An order number has 1 to 40 characters and no spaces."))
            return
        refund = parsed.refunds.get(order_no)
        if refund is None:
            refund = parsed.refunds[order_no] = _Refund(row=number)
        refund.rows.append(number)
        sku, quantity = row[i_sku].upper(), _whole(raw_quantity[1:])
        raw_amount = row[at["amount"]]
        amount = _money(raw_amount, signed=True) if raw_amount else None
        ok = True
        if not sku:
            parsed.error(number, header["sku"], _("Choose a product."))
            ok = False
        if quantity is None or quantity == 0 or quantity > MAX_QUANTITY:
            parsed.error(number, header["quantity"], _("“%(value)s” is not a whole number.") % {"value": raw_quantity}
                         if quantity is None else _("The quantity is too large.") if quantity else
                         _("The quantity must be at least 1."))
            ok = False
        if raw_amount and amount is None:
            parsed.error(number, header["amount"], _("“%(value)s” is not an amount.") % {"value": raw_amount})
            ok = False
        if ok:
            refund.lines.append((sku, quantity, None if amount is None else abs(amount), number))
        else:
            refund.bad = True

    for number, row in rows:
        short = blank + 1 - len(row)
        if short > 0:
            row = [*row, *([""] * short)]
        elif short < 0:
            row = row[:blank + 1]
            row[blank] = ""
        else:
            row[blank] = ""
        if row[i_order] != group:
            group = row[i_order]
            if len(orders) + len(parsed.refunds) >= CHUNK_ORDERS:
                yield parsed
                parsed = _Parsed()
                orders = parsed.orders

        raw_quantity = nfkc(row[i_quantity])
        if raw_quantity.startswith("-"):
            read_refund(number, row, raw_quantity)
            continue
        order_no = row[i_order]
        head = (order_no, row[i_number], row[i_phone], row[i_time], row[i_store], row[i_channel], row[i_payment],
                row[i_paid])
        # The rows of an order usually follow each other and repeat its cells: they are read when they change.
        if head != last_head:
            last_head, last_known = head, read_head(*head)
        known = last_known
        skip, head_errors, customer_key, paid_at, store, channel, payment, paid_amount, raw_channel, raw_paid = known
        if skip is not None:
            column, message, of_order = skip
            parsed.error(number, column, message, order_no if of_order else "")
            continue
        ok = not head_errors
        for column, message in head_errors:
            parsed.error(number, column, message, order_no)
        sku = row[i_sku].upper()
        if not sku:
            parsed.error(number, header["sku"], _("Choose a product."), order_no)
            ok = False
        quantity = _whole(raw_quantity)
        if quantity is None:
            parsed.error(number, header["quantity"], _("“%(value)s” is not a whole number.") % {"value": raw_quantity},
                         order_no)
            ok = False
        elif quantity <= 0 or quantity > MAX_QUANTITY:
            parsed.error(number, header["quantity"], _("The quantity must be at least 1.") if quantity <= 0
                         else _("The quantity is too large."), order_no)
            ok = False
        amounts = []
        for name, index in money_fields:
            raw = row[index]
            value = None
            if raw:
                cache = prices if name == "unit_price" else moneys
                if raw not in cache:
                    cache[raw] = _money(raw, places=PRICE_PLACES if name == "unit_price" else CENT)
                value = cache[raw]
                if value is None:
                    parsed.error(number, header[name], _("“%(value)s” is not an amount.") % {"value": raw}, order_no)
                    ok = False
            amounts.append(value)
        order = orders.get(order_no)
        if order is None:
            order = orders[order_no] = _Order(order_no, number, customer_key, paid_at, store, channel or "",
                                              payment, paid_amount)
        elif not (customer_key == order.customer_key and (paid_at == order.paid_at or paid_at is None)
                  and store == order.store and ((channel or "") == order.channel or not raw_channel)
                  and (not raw_paid or paid_amount == order.paid_amount)):
            differs = [label for label, same in (
                (header.get("customer_number") or header.get("phone", ""), customer_key == order.customer_key),
                (header["paid_at"], paid_at == order.paid_at or paid_at is None),
                (header.get("store", ""), store == order.store),
                (header.get("channel", ""), (channel or "") == order.channel or not raw_channel),
                (header.get("paid_amount", ""), not raw_paid or paid_amount == order.paid_amount),
            ) if not same]
            for label in differs:
                parsed.error(number, label, _("Differs from the first row of order %(order)s (row %(row)s).")
                             % {"order": order_no, "row": order.row}, order_no)
            ok = False
        order.rows.append(number)
        if ok:
            unit_price, discount, amount = amounts
            order.lines.append((sku, quantity, unit_price, discount or zero, amount, number))
    yield parsed


def _lookups(actor, parsed: _Parsed, label: dict[str, str]) -> tuple[dict, dict]:
    """Check what the database knows: customers, products, stores, order numbers taken; `label` names each field's
    column. Return the products and the stores found."""
    orders = parsed.orders
    numbers = {o.customer_key[1] for o in orders.values() if o.customer_key[0] == "number"}
    phones: dict[str, str] = {}
    for o in orders.values():
        raw = o.customer_key[1]
        if o.customer_key[0] == "phone" and raw not in phones:
            e164 = fast_mobile(raw)
            if not e164:
                try:
                    e164 = normalize_phone(raw)
                except InvalidPhone:
                    e164 = ""
            phones[raw] = phone_search_digits(e164) if e164 else ""
    visible = customer_visible_qs(actor).order_by()
    by_number = dict(visible.filter(in_values("number", sorted(numbers))).values_list("number", "pk")) \
        if numbers else {}
    by_phone: dict[str, int | None] = {}
    digits = sorted(set(phones.values()) - {""})
    if digits:
        for phone_digits, pk in visible.filter(in_values("phone_digits", digits)).values_list("phone_digits", "pk"):
            by_phone[phone_digits] = pk if phone_digits not in by_phone else None  # None: several customers
    skus = sorted({line[0] for o in orders.values() for line in o.lines})
    products = {sku: (pk, category_id, category, price) for sku, pk, category_id, category, price in
                Product.objects.filter(in_values("sku", skus)).order_by()
                .values_list("sku", "pk", "category_id", "category__name", "list_price")} if skus else {}
    stores: dict[str, tuple[int, str, str]] = {}
    for pk, code, name in Store.objects.values_list("pk", "code", "name"):
        stores[code.upper()] = stores[name] = (pk, code, name)
    taken = dict(Order.objects.filter(in_values("order_no", sorted(orders))).order_by()
                 .values_list("order_no", "public_id")) if orders else {}
    customer_label = label.get("customer_number") or label.get("phone", "")
    for o in orders.values():
        if o.order_no in taken:
            parsed.error(o.row, label["order_no"], _("Order number %(number)s exists already.")
                         % {"number": o.order_no}, o.order_no)
            parsed.hints.append((o.row, o.order_no, taken[o.order_no]))
        kind, value = o.customer_key
        pk = by_number.get(value) if kind == "number" else by_phone.get(phones.get(value, ""), 0)
        if pk is None and kind == "phone":
            parsed.error(o.row, customer_label, _("Several customers have this phone number; use the customer "
                                                  "number instead."), o.order_no)
        elif not pk:
            parsed.error(o.row, customer_label, _("No customer %(value)s.") % {"value": value}, o.order_no)
        o.customer_id = pk or None
        if o.store and o.store.upper() not in stores and o.store not in stores:
            parsed.error(o.row, label.get("store", ""), _("There is no store with code %(code)s.")
                         % {"code": o.store}, o.order_no)
        for sku, _quantity, _price, _discount, _amount, row in o.lines:
            if sku not in products:
                parsed.error(row, label["sku"], _("There is no product with SKU %(sku)s.") % {"sku": sku},
                             o.order_no)
    return products, stores


@dataclass
class _Checked:
    """The orders that can be written, with their lines priced."""

    orders: list[tuple[_Order, Decimal, Decimal, list[tuple]]] = field(default_factory=list)
    lines: int = 0
    refunds: list[tuple[str, _Refund]] = field(default_factory=list)  # those order_refund accepts


def _price(parsed: _Parsed, products: dict, label: dict[str, str]) -> _Checked:
    """Compute each good order's lines and totals; report amounts that do not add up."""
    checked = _Checked()
    for o in parsed.orders.values():
        if o.order_no in parsed.bad_orders:
            continue
        priced, subtotal, ok = [], Decimal("0.00"), True
        for sku, quantity, price, discount, amount, row in o.lines:
            pk, category_id, category, list_price = products[sku]
            if price is not None and price != price.quantize(CENT):
                exact = (quantity * price - discount).quantize(CENT, rounding=ROUND_HALF_UP)
                if amount is None or amount == exact:
                    amount, price = exact, None  # the price is worked out from the line amount below
            if price is not None and amount is not None and quantity * price - discount != amount and (
                    (amount + discount) / quantity).quantize(CENT, rounding=ROUND_HALF_UP) == price.quantize(
                    CENT, rounding=ROUND_HALF_UP):
                # The file's unit price is the line's, rounded (3 for ¥19.90 at ¥6.63, or ¥6.6333…): the line
                # amount stands, and the price is worked out from it below.
                price = None
            if price is None and amount is not None:
                price = ((amount + discount) / quantity).quantize(CENT, rounding=ROUND_HALF_UP)
                if quantity * price - discount != amount:
                    # A price that does not divide evenly: keep the line amount, the difference is a discount.
                    price = ((amount + discount) / quantity).quantize(CENT, rounding=ROUND_UP)
                    discount = quantity * price - amount
            unit_price = list_price if price is None else price
            line_amount = quantity * unit_price - discount
            if line_amount < 0:
                parsed.error(row, label.get("discount", label["sku"]), _("The discount is larger than the line's "
                                                                          "price."), o.order_no)
                ok = False
                continue
            if amount is not None and amount != line_amount:
                parsed.error(row, label["amount"], _("The line amount %(amount)s is not quantity × unit price − "
                                                     "discount (%(expected)s).")
                             % {"amount": amount, "expected": line_amount.quantize(CENT, rounding=ROUND_HALF_UP)},
                             o.order_no)
                ok = False
                continue
            priced.append((pk, category_id, category, sku, quantity, unit_price, discount, line_amount))
            subtotal += line_amount
        paid = subtotal if o.paid_amount is None else o.paid_amount
        if ok and paid > subtotal:
            parsed.error(o.row, label.get("paid_amount", ""), _("The paid amount %(paid)s is more than the lines "
                                                                "add up to (%(subtotal)s).")
                         % {"paid": paid, "subtotal": subtotal}, o.order_no)
            ok = False
        if ok and subtotal > MAX_MONEY:
            parsed.error(o.row, label["sku"], _("The amount is too large."), o.order_no)
            ok = False
        if ok:
            checked.orders.append((o, subtotal, paid, priced))
            checked.lines += len(priced)
    return checked


# The dry run stores the rows it parsed next to the upload, so that the import need not read and parse the file
# again; what the database says (customers, products, stores, order numbers taken) is asked again at the import.
# The key names the file's content, the mapping and what else parsing depends on: anything else found there is
# ignored and the file is parsed again.


def _checked_key(job: OrderImport, data: bytes, columns: dict[str, int]) -> str:
    return checked_key(data, "orders", CHECKED_FORMAT, job.sheet, timezone.get_current_timezone_name(),
                       sorted(columns.items()))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _record(parsed: _Parsed) -> tuple:
    """Return a run of parsed orders as a record to store (amounts and times as text)."""
    return ("orders",
            [(o.order_no, o.row, *o.customer_key, o.paid_at.isoformat() if o.paid_at else None, o.store, o.channel,
              o.payment_method, _text(o.paid_amount), o.rows,
              [(sku, quantity, _text(price), str(discount), _text(amount), row)
               for sku, quantity, price, discount, amount, row in o.lines]) for o in parsed.orders.values()],
            [(order_no, r.row, r.rows, [(sku, quantity, _text(amount), row) for sku, quantity, amount, row in r.lines],
              r.bad) for order_no, r in parsed.refunds.items()],
            parsed.errors, sorted(parsed.bad_orders), sorted(parsed.bad_rows))


def _parsed(record: tuple, decimals: dict[str | None, Decimal | None]) -> _Parsed:
    """Return the run of parsed orders stored as `record`; `decimals` keeps the amounts read so far."""
    _kind, orders, refunds, errors, bad_orders, bad_rows = record
    parsed = _Parsed(errors=[tuple(error) for error in errors], bad_orders=set(bad_orders), bad_rows=set(bad_rows))
    for order_no, row, rows, lines, bad in refunds:
        parsed.refunds[order_no] = _Refund(row, rows, [(sku, quantity, None if amount is None else Decimal(amount),
                                                        line_row) for sku, quantity, amount, line_row in lines], bad)
    for order_no, row, kind, value, paid_at, store, channel, payment, paid_amount, rows, lines in orders:
        for text in (paid_amount, *(v for line in lines for v in line[2:5])):
            if text not in decimals:
                decimals[text] = Decimal(text)
        parsed.orders[order_no] = _Order(
            order_no, row, (kind, value), datetime.fromisoformat(paid_at) if paid_at else None, store, channel,
            payment, decimals[paid_amount], rows,
            [(sku, quantity, decimals[price], decimals[discount], decimals[amount], line_row)
             for sku, quantity, price, discount, amount, line_row in lines])
    return parsed


def _check_file(job: OrderImport, data: bytes, columns: dict[str, int], key: str) -> None:
    """Parse the job's file, its rows ordered by order number, and store the orders next to the upload a run at a
    time, then the row count and the warnings."""
    with job_table(job, data) as table:
        total = 0

        def counted() -> Iterator[tuple[int, list[str]]]:
            nonlocal total
            for row in table.rows():
                total += 1
                yield row

        with _by_order(counted(), columns["order_no"]) as rows:
            checked_write(job, key, chain((_record(parsed) for parsed in _parse_rows(table.headers, rows, columns)),
                                          [("end", total, warnings_report(table), table.warning_count)]))


def _stored(job: OrderImport, key: str, summary: _Summary) -> Iterator[_Parsed]:
    """Yield the runs of parsed orders stored for the job under the key; fill the summary's row count and warnings.
    Raise ValueError when they are missing or damaged."""
    records = checked_records(job, key)
    if records is None:
        raise CheckedDamaged(key)
    decimals: dict[str | None, Decimal | None] = {None: None}
    for record in records:
        if record[0] == "end":
            summary.total, summary.warnings, summary.warning_count = record[1:]
        else:
            yield _parsed(record, decimals)


def _stored_key(job: OrderImport, columns: dict[str, int], *, check: bool) -> str:
    """Return the key of the job's parsed rows; parse the file first when asked, or when the rows stored are
    missing, of another file or damaged."""
    data = job_data(job)
    key = _checked_key(job, data, columns)
    if not check:
        try:
            for _parsed_run in _stored(job, key, _Summary()):
                pass
        except (ValueError, EOFError, TypeError):
            check = True
    if check:
        _check_file(job, data, columns, key)
    return key


def _import(actor, job: OrderImport, columns: dict[str, int], key: str, *, write: bool) -> tuple[_Summary, int]:
    """Check the stored orders against the database a run at a time, and with `write` import the good ones (all
    or none in "all or nothing"). Return what was found, and how many refunds were made."""
    summary = _Summary()
    label = {name: job.headers[index] for name, index in columns.items()}
    all_or_nothing = job.mode == ImportMode.ALL_OR_NOTHING
    refunded = 0
    for parsed in _stored(job, key, summary):
        products, stores = _lookups(actor, parsed, label)
        checked = _price(parsed, products, label)
        checked.refunds = _refunds(actor, job, parsed, label,
                                   [(no, r) for no, r in parsed.refunds.items() if not r.bad], apply=False)
        # Rows of an order with a bad row are skipped with it: an order is imported whole or not at all.
        for o in parsed.orders.values():
            if o.order_no in parsed.bad_orders:
                parsed.bad_rows.update(o.rows)
        checked.orders = [entry for entry in checked.orders if entry[0].order_no not in parsed.bad_orders]
        checked.lines = sum(len(entry[3]) for entry in checked.orders)
        summary.add(parsed, checked)
        if write and not (all_or_nothing and summary.errors.count):
            _write(actor, job, checked, stores)
            refunded += len(_refunds(actor, job, parsed, {}, checked.refunds, apply=True))
    return summary, refunded


class _DryRun(Exception):
    """Rolls back a refund tried by the check."""


def _refunds(actor, job: OrderImport, parsed: _Parsed, label: dict[str, str], refunds: list[tuple[str, _Refund]],
             *, apply: bool) -> list[tuple[str, _Refund]]:
    """Refund the stored orders that refund rows name, through order_refund (its rules, audit and event); the
    check tries each in a savepoint that it rolls back and reports the refused ones. Return those accepted."""
    if not refunds:
        return []
    stored = {order.order_no: order for order in
              Order.objects.filter(in_values("order_no", sorted(no for no, _r in refunds))).order_by()}
    accepted = []
    for order_no, refund in refunds:
        order = stored.get(order_no)
        if order is None or order_no in parsed.orders:
            message = _("A refund row names a stored order: import order %(order)s first, then its refund.") \
                % {"order": order_no}
        else:
            try:
                with transaction.atomic():
                    order_refund(actor=actor, order=order, amount=refund.amount(), via="import",
                                 reason=_("Refund imported from %(file)s") % {"file": job.file_name[:150]},
                                 lines=[{"sku": sku, "quantity": quantity} for sku, quantity, _a, _r in refund.lines])
                    if not apply:
                        raise _DryRun
            except _DryRun:
                accepted.append((order_no, refund))
                continue
            except DomainError as exc:
                if apply:
                    raise
                message = exc.message
            else:
                accepted.append((order_no, refund))
                continue
        parsed.error(refund.row, label.get("order_no", ""), message)
        parsed.bad_rows.update(refund.rows)
    return accepted


def _report(job: OrderImport, summary: _Summary) -> None:
    job.total_rows = summary.total
    job.error_rows = summary.bad_rows
    job.report = {"errors": summary.errors.report(), "error_count": summary.errors.count,
                  "good_rows": summary.total - summary.bad_rows, "good_orders": summary.good_orders,
                  "good_lines": summary.good_lines, "good_refunds": summary.good_refunds,
                  "warnings": summary.warnings, "warning_count": summary.warning_count,
                  "checked_at": timezone.now().isoformat(), **summary.hints.report()}


@transaction.atomic(durable=True)
def order_import_validate(*, actor, job: OrderImport, mapping: dict[str, str], mode: str) -> OrderImport:
    """Check every row against the mapping and the database (a dry run): report bad rows, write no order."""
    _require(actor)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code=ImportCode.ALREADY_IMPORTED)
    if mode not in ImportMode.values:
        raise DomainError(_("Choose how to treat bad rows."), code=ImportCode.INVALID_MODE, field="mode")
    columns = _clean_mapping(job, mapping)
    job.mode = mode
    summary, _refunded = _import(actor, job, columns, _stored_key(job, columns, check=True), write=False)
    job.mapping = {str(i): next((f for f, c in columns.items() if c == i), IGNORE) for i in range(len(job.headers))}
    job.status = ImportStatus.VALIDATED
    _report(job, summary)
    job.save()
    return job


@transaction.atomic(durable=True)
def order_import_run(*, actor, job: OrderImport, mode: str | None = None) -> OrderImport:
    """Import the checked file in one transaction: orders, lines and their order.paid events, in bulk, a run of
    orders at a time.

    "All or nothing" imports nothing when a row is bad; "skip" imports the orders whose rows are all good. `mode`
    changes the job's mode first (after a failed "all or nothing" run: skip the bad rows).
    """
    _require(actor)
    run_prepare(job, mode)
    job = OrderImport.objects.select_for_update().get(pk=job.pk)
    run_prepare(job, mode)
    started = time.monotonic()
    columns = _clean_mapping(job, job.mapping)
    key = _stored_key(job, columns, check=False)
    with transaction.atomic():
        summary, refunded = _import(actor, job, columns, key, write=True)
        failed = bool(summary.errors.count) and job.mode == ImportMode.ALL_OR_NOTHING
        transaction.set_rollback(failed)
    _report(job, summary)
    if failed:
        job.status = ImportStatus.FAILED
        job.order_count = job.line_count = 0
        job.report["result"] = "nothing_imported"
        job.save()
        return job
    # The stored rows serve one import; a failed run keeps them for the next run, which asks the database again.
    transaction.on_commit(partial(job.file.storage.delete, checked_name(job)), robust=True)
    job.status = ImportStatus.IMPORTED
    job.order_count, job.line_count = summary.good_orders, summary.good_lines
    job.report["result"] = "imported"
    job.report["refunds"] = refunded
    job.report["seconds"] = round(time.monotonic() - started, 3)
    job.save()
    audit_record(actor=actor, action="order.import", obj=job, changes={
        "file": [None, job.file_name], "mode": [None, job.mode], "rows": [None, job.total_rows],
        "orders": [None, job.order_count], "lines": [None, job.line_count], "skipped_rows": [None, job.error_rows]})
    return job


def _write(actor, job: OrderImport, checked: _Checked, stores: dict) -> tuple[int, int]:
    """Insert the orders, their lines and their order.paid events (COPY on PostgreSQL, executemany elsewhere).

    The rows are made while they are sent: on PostgreSQL the server stores one part of a COPY while Python makes
    the next (the two cores work at once).
    """
    orders = checked.orders
    if not orders:
        return 0, 0
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    # Each order's store row (id, code, name), looked up once for the orders, the daily totals and the events.
    store_of = [(stores.get(o.store.upper()) or stores.get(o.store)) if o.store else None for o, *_rest in orders]
    rows_insert(Order, ("public_id", "order_no", "customer_id", "channel", "store_id", "payment_method",
                        "subtotal", "discount", "paid_amount", "paid_at", "created_by_id"),
                ((public_id, o.order_no, o.customer_id, o.channel, store[0] if store else None, o.payment_method,
                  subtotal, subtotal - paid, paid, o.paid_at, actor_id)
                 for (o, subtotal, paid, _priced), store, public_id in zip(orders, store_of,
                                                                           new_public_ids(len(orders)), strict=True)),
                fixed={"note": "", "idempotency_key": None})
    pks = dict(Order.objects.filter(in_values("order_no", [o.order_no for o, *_rest in orders])).order_by()
               .values_list("order_no", "pk"))
    days = [local_day(o.paid_at) for o, *_rest in orders]
    day_lines: list[tuple] = []

    def line_rows():
        for (o, _subtotal, _paid, priced), day in zip(orders, days, strict=True):
            order_id = pks[o.order_no]
            for pk, category_id, _category, _sku, quantity, price, discount, amount in priced:
                day_lines.append((day, pk, category_id, amount, quantity))
                yield order_id, pk, category_id, quantity, price, discount, amount

    rows_insert(OrderLine, ("order_id", "product_id", "category_id", "quantity", "unit_price", "discount",
                            "amount"), line_rows())
    rollup_orders([(day, store[1] if store else "", o.channel, paid)
                   for (o, _subtotal, paid, _priced), store, day in zip(orders, store_of, days, strict=True)],
                  day_lines)

    # Recorded as history: handlers that take history (the lifecycle stage) see them, live processing does not;
    # the member club's back-fill applies their points when asked.
    # The rows in the order of events.services.EVENT_COLUMNS.
    record_event_rows([
        (public_id, o.customer_id, "order.paid", o.paid_at, o.channel, store[2] if store else "",
         "",  # the summary: the timeline renders the line from the payload
         {"order_no": o.order_no, "amount": str(paid), "currency": CURRENCY, "store": store[1] if store else "",
          "channel": o.channel, "categories": list(dict.fromkeys(line[2] for line in priced)),
          "lines": [{"sku": sku, "category": category, "quantity": quantity, "amount": str(amount)}
                    for _pk, _cid, category, sku, quantity, _price, _discount, amount in priced],
          "subtotal": str(subtotal), "discount": str(subtotal - paid), "payment_method": o.payment_method,
          "import": job.public_id},
         paid_event_key_for(o.order_no), actor_id)
        for (o, subtotal, paid, priced), store, public_id in zip(orders, store_of, new_public_ids(len(orders)),
                                                                  strict=True)], historical=True)
    return len(orders), len(day_lines)

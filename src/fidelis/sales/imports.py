"""Historical orders from CSV (UTF-8 or GBK) or XLSX: upload, column mapping, dry run, then one bulk transaction.

One row per order line; the rows of an order share its order number (and its customer, time, store, channel,
payment method and paid amount, taken from its first row). The file is read with the customer import's helpers
(`fidelis.customers.imports`). The import writes orders, lines and each order's `order.paid` event with the
historical payment time and the payload `order_create` writes, in bulk and without live dispatch: the member club's
back-fill (`loyalty.backfill.orders_backfill`, which reads order.paid events it has not applied yet) turns them into
points, purchases and tiers when it runs.
"""

import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.imports import (
    _HEADER_NOISE,
    _fast_mobile,
    _in_values,
    _insert_rows,
    _public_ids,
    _read_rows,
    _split_header,
    read_upload,
)
from fidelis.customers.models import ImportMode, ImportStatus
from fidelis.customers.normalize import InvalidPhone, normalize_phone, phone_search_digits
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.models import Event
from fidelis.sales.models import Order, OrderChannel, OrderImport, OrderLine, PaymentMethod, Product, Store
from fidelis.sales.rollups import local_day, rollup_orders
from fidelis.sales.services import CURRENCY, MAX_MONEY, MAX_QUANTITY, paid_event_key_for

IGNORE = "ignore"
MAX_REPORTED_ERRORS = 1000
CENT = Decimal("0.01")
ORDER_FIELDS = ("order_no", "customer_number", "phone", "paid_at", "store", "channel", "payment_method",
                "paid_amount")
LINE_FIELDS = ("sku", "quantity", "unit_price", "discount", "amount")
IMPORT_FIELDS = (*ORDER_FIELDS, *LINE_FIELDS)
REQUIRED = ("order_no", "paid_at", "sku", "quantity")

# Header words (lower case, no spaces or punctuation) that name a field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_no": ("订单号", "订单编号", "单号", "订单", "小票号", "orderno", "ordernumber", "order", "orderid"),
    "customer_number": ("客户编号", "客户号", "会员编号", "customernumber", "customerno", "customer"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile", "tel"),
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
        key = _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", header or "").lower())
        name = _ALIAS_TO_FIELD.get(key) or (key if key in IMPORT_FIELDS else None)
        mapping[str(index)] = name if name and name not in taken else IGNORE
        if name:
            taken.add(name)
    return mapping


def _require(actor) -> None:
    if not has_capability(actor, "order.import"):
        raise PermissionDenied(_("You may not import orders."), code="forbidden")


@transaction.atomic
def order_import_create(*, actor, uploaded_file) -> OrderImport:
    """Store an uploaded CSV/XLSX file of order lines, read its header row and guess the column mapping."""
    _require(actor)
    name, data, encoding, headers, data_rows = read_upload(uploaded_file, "orders.csv")
    job = OrderImport(file_name=name, encoding=encoding, headers=headers, mapping=guess_mapping(headers),
                      total_rows=len(data_rows), created_by=actor if actor.is_authenticated else None)
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    audit_record(actor=actor, action="order.import_upload", obj=job,
                 changes={"file": [None, name], "rows": [None, len(data_rows)]})
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
            raise DomainError(_("Unknown field: %(field)s") % {"field": name}, code="unknown_field", field="mapping")
        if name in columns:
            raise DomainError(_("Two columns are mapped to “%(field)s”.") % {"field": _field_label(name)},
                              code="mapped_twice", field="mapping")
        columns[name] = index
    for name in REQUIRED:
        if name not in columns:
            raise DomainError(_("Map one column to “%(field)s”.") % {"field": _field_label(name)},
                              code="unmapped", field="mapping")
    if "customer_number" not in columns and "phone" not in columns:
        raise DomainError(_("Map one column to the customer number or the mobile phone."), code="unmapped",
                          field="mapping")
    return columns


@dataclass
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


@dataclass
class _Parsed:
    orders: dict[str, _Order] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    bad_orders: set[str] = field(default_factory=set)
    bad_rows: set[int] = field(default_factory=set)
    total: int = 0

    def error(self, row: int, column: str, message: str, order_no: str = "") -> None:
        self.bad_rows.add(row)
        if order_no:
            self.bad_orders.add(order_no)
        self.errors.append({"row": row, "column": column, "message": str(message)})


def _money(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").replace("¥", "").replace("￥", "").strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value < 0 or value > MAX_MONEY:
        return None
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _time(text: str, tz) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
        for fmt in TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    if len(text) <= 10 and moment.hour == moment.minute == 0:
        moment = moment.replace(hour=12)  # a day without a time: noon, so that no time zone moves it to another day
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _choice(text: str, words: dict[str, str], choices) -> str | None:
    key = text.strip().lower()
    if key in choices.values:
        return key
    if key in words:
        return words[key]
    labels = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            labels.update({str(label).lower(): value for value, label in choices.choices})
    return labels.get(key)


def _parse(job: OrderImport, data: bytes, columns: dict[str, int]) -> _Parsed:
    """Check every row on its own and each order's rows against its first row (the database is not asked)."""
    kind = "xlsx" if Path(job.file_name).suffix.lower() in (".xlsx", ".xlsm") else "csv"
    headers, rows = _split_header(_read_rows(kind, data)[0])
    parsed = _Parsed(total=len(rows))
    header = {name: headers[index] if index < len(headers) else name for name, index in columns.items()}
    tz = timezone.get_current_timezone()
    now = timezone.now()
    channels: dict[str, str | None] = {}
    payments: dict[str, str | None] = {}
    times: dict[str, datetime | None] = {}
    # Unmapped fields read an empty cell added at the end of every row (cells are stripped by the reader).
    blank = max(columns.values()) + 1
    at = {name: columns.get(name, blank) for name in IMPORT_FIELDS}
    i_order, i_number, i_phone, i_time, i_store = (at[n] for n in ("order_no", "customer_number", "phone",
                                                                      "paid_at", "store"))
    i_channel, i_payment, i_paid, i_sku, i_quantity = (at[n] for n in ("channel", "payment_method", "paid_amount",
                                                                          "sku", "quantity"))
    money_fields = [(name, at[name]) for name in ("unit_price", "discount", "amount")]
    for number, row in rows:
        short = blank + 1 - len(row)
        if short > 0:
            row = [*row, *([""] * short)]
        elif short < 0:
            row = row[:blank + 1]
            row[blank] = ""
        else:
            row[blank] = ""

        order_no = row[i_order]
        ok = True
        if not order_no or len(order_no) > 40 or any(c.isspace() for c in order_no):
            parsed.error(number, header["order_no"], _("An order number has 1 to 40 characters and no spaces."))
            continue
        customer_number, phone = row[i_number].upper(), row[i_phone]
        if customer_number:
            customer_key = ("number", customer_number)
        elif phone:
            customer_key = ("phone", phone)
        else:
            parsed.error(number, header.get("customer_number") or header["phone"],
                         _("Name the customer: customer number or mobile phone."), order_no)
            continue
        raw_time = row[i_time]
        if raw_time not in times:
            times[raw_time] = _time(raw_time, tz) if raw_time else None
        paid_at = times[raw_time]
        if paid_at is None:
            parsed.error(number, header["paid_at"], _("“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM).")
                         % {"value": raw_time}, order_no)
            ok = False
        elif paid_at > now:
            parsed.error(number, header["paid_at"], _("The payment time lies in the future."), order_no)
            ok = False
        store = row[i_store]
        raw_channel = row[i_channel]
        if raw_channel:
            if raw_channel not in channels:
                channels[raw_channel] = _choice(raw_channel, CHANNEL_WORDS, OrderChannel)
            channel = channels[raw_channel]
            if channel is None:
                parsed.error(number, header["channel"], _("“%(value)s” is not a channel.") % {"value": raw_channel},
                             order_no)
                ok = False
        else:
            channel = OrderChannel.STORE.value if store else OrderChannel.ONLINE.value
        raw_payment = row[i_payment]
        payment = PaymentMethod.OTHER.value
        if raw_payment:
            if raw_payment not in payments:
                payments[raw_payment] = _choice(raw_payment, PAYMENT_WORDS, PaymentMethod)
            payment = payments[raw_payment]
            if payment is None:
                parsed.error(number, header["payment_method"], _("“%(value)s” is not a payment method.")
                             % {"value": raw_payment}, order_no)
                ok = False
        paid_amount = None
        raw_paid = row[i_paid]
        if raw_paid:
            paid_amount = _money(raw_paid)
            if paid_amount is None:
                parsed.error(number, header["paid_amount"], _("“%(value)s” is not an amount.") % {"value": raw_paid},
                             order_no)
                ok = False
        sku = row[i_sku].upper()
        if not sku:
            parsed.error(number, header["sku"], _("Choose a product."), order_no)
            ok = False
        raw_quantity = row[i_quantity]
        quantity = int(raw_quantity) if raw_quantity.isdigit() else None
        if quantity is None:
            try:
                value = Decimal(raw_quantity)
                quantity = int(value) if value.is_finite() and value == value.to_integral_value() else None
            except (InvalidOperation, ValueError):
                quantity = None
        if quantity is None:
            parsed.error(number, header["quantity"], _("“%(value)s” is not a whole number.") % {"value": raw_quantity},
                         order_no)
            ok = False
        elif quantity <= 0 or quantity > MAX_QUANTITY:
            parsed.error(number, header["quantity"], _("The quantity must be at least 1.") if quantity <= 0
                         else _("The quantity is too large."), order_no)
            ok = False
        amounts = {}
        for name, index in money_fields:
            raw = row[index]
            amounts[name] = None
            if raw:
                amounts[name] = _money(raw)
                if amounts[name] is None:
                    parsed.error(number, header[name], _("“%(value)s” is not an amount.") % {"value": raw}, order_no)
                    ok = False
        order = parsed.orders.get(order_no)
        if order is None:
            order = parsed.orders[order_no] = _Order(order_no, number, customer_key, paid_at, store, channel or "",
                                                     payment, paid_amount)
        else:
            differs = [(name, label) for name, label, same in (
                ("customer", header.get("customer_number") or header.get("phone", ""),
                 customer_key == order.customer_key),
                ("paid_at", header["paid_at"], paid_at == order.paid_at or paid_at is None),
                ("store", header.get("store", ""), store == order.store),
                ("channel", header.get("channel", ""), (channel or "") == order.channel or not raw_channel),
                ("paid_amount", header.get("paid_amount", ""), not raw_paid or paid_amount == order.paid_amount),
            ) if not same]
            for _name, label in differs:
                parsed.error(number, label, _("Differs from the first row of order %(order)s (row %(row)s).")
                             % {"order": order_no, "row": order.row}, order_no)
                ok = False
        order.rows.append(number)
        if ok:
            order.lines.append((sku, quantity, amounts["unit_price"], amounts["discount"] or Decimal("0.00"),
                                amounts["amount"], number))
    return parsed


def _lookups(actor, parsed: _Parsed, columns: dict[str, int], headers: list[str]) -> tuple[dict, dict, dict]:
    """Check what the database knows: customers, products, stores, order numbers taken. Return what was found."""
    label = {name: headers[index] for name, index in columns.items()}
    orders = parsed.orders
    numbers = {o.customer_key[1] for o in orders.values() if o.customer_key[0] == "number"}
    phones: dict[str, str] = {}
    for o in orders.values():
        raw = o.customer_key[1]
        if o.customer_key[0] == "phone" and raw not in phones:
            e164 = _fast_mobile(raw)
            if not e164:
                try:
                    e164 = normalize_phone(raw)
                except InvalidPhone:
                    e164 = ""
            phones[raw] = phone_search_digits(e164) if e164 else ""
    visible = customer_visible_qs(actor).order_by()
    by_number = dict(visible.filter(_in_values("number", sorted(numbers))).values_list("number", "pk")) \
        if numbers else {}
    by_phone: dict[str, int | None] = {}
    digits = sorted(set(phones.values()) - {""})
    if digits:
        for phone_digits, pk in visible.filter(_in_values("phone_digits", digits)).values_list("phone_digits", "pk"):
            by_phone[phone_digits] = pk if phone_digits not in by_phone else None  # None: several customers
    skus = sorted({line[0] for o in orders.values() for line in o.lines})
    products = {sku: (pk, category_id, category, price) for sku, pk, category_id, category, price in
                Product.objects.filter(_in_values("sku", skus)).order_by()
                .values_list("sku", "pk", "category_id", "category__name", "list_price")} if skus else {}
    stores: dict[str, tuple[int, str, str]] = {}
    for pk, code, name in Store.objects.values_list("pk", "code", "name"):
        stores[code.upper()] = stores[name] = (pk, code, name)
    taken = set(Order.objects.filter(_in_values("order_no", sorted(orders))).order_by()
                .values_list("order_no", flat=True)) if orders else set()
    customer_label = label.get("customer_number") or label.get("phone", "")
    for o in orders.values():
        if o.order_no in taken:
            parsed.error(o.row, label["order_no"], _("Order number %(number)s exists already.")
                         % {"number": o.order_no}, o.order_no)
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
    return products, stores, label


@dataclass
class _Checked:
    """The orders that can be written, with their lines priced."""

    orders: list[tuple[_Order, Decimal, Decimal, list[tuple]]] = field(default_factory=list)
    lines: int = 0


def _price(parsed: _Parsed, products: dict, label: dict[str, str]) -> _Checked:
    """Compute each good order's lines and totals; report amounts that do not add up."""
    checked = _Checked()
    for o in parsed.orders.values():
        if o.order_no in parsed.bad_orders:
            continue
        priced, subtotal, ok = [], Decimal("0.00"), True
        for sku, quantity, price, discount, amount, row in o.lines:
            pk, category_id, category, list_price = products[sku]
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
                             % {"amount": amount, "expected": line_amount}, o.order_no)
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


def _check(actor, job: OrderImport, columns: dict[str, int]) -> tuple[_Parsed, _Checked, dict]:
    job.file.open("rb")
    try:
        data = job.file.read()
    finally:
        job.file.close()
    parsed = _parse(job, data, columns)
    products, stores, label = _lookups(actor, parsed, columns, job.headers)
    checked = _price(parsed, products, label)
    # Rows of an order with a bad row are skipped with it: an order is imported whole or not at all.
    for o in parsed.orders.values():
        if o.order_no in parsed.bad_orders:
            parsed.bad_rows.update(o.rows)
    checked.orders = [entry for entry in checked.orders if entry[0].order_no not in parsed.bad_orders]
    checked.lines = sum(len(entry[3]) for entry in checked.orders)
    parsed.errors.sort(key=lambda e: e["row"])
    return parsed, checked, stores


def _report(job: OrderImport, parsed: _Parsed, checked: _Checked) -> None:
    job.total_rows = parsed.total
    job.error_rows = len(parsed.bad_rows)
    job.report = {"errors": parsed.errors[:MAX_REPORTED_ERRORS], "error_count": len(parsed.errors),
                  "good_rows": parsed.total - len(parsed.bad_rows), "good_orders": len(checked.orders),
                  "good_lines": checked.lines, "checked_at": timezone.now().isoformat()}


@transaction.atomic
def order_import_validate(*, actor, job: OrderImport, mapping: dict[str, str], mode: str) -> OrderImport:
    """Check every row against the mapping and the database (a dry run): report bad rows, write no order."""
    _require(actor)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code="already_imported")
    if mode not in ImportMode.values:
        raise DomainError(_("Choose how to treat bad rows."), code="invalid_mode", field="mode")
    columns = _clean_mapping(job, mapping)
    parsed, checked, _stores = _check(actor, job, columns)
    job.mapping = {str(i): next((f for f, c in columns.items() if c == i), IGNORE) for i in range(len(job.headers))}
    job.mode = mode
    job.status = ImportStatus.VALIDATED
    _report(job, parsed, checked)
    job.save()
    return job


@transaction.atomic
def order_import_run(*, actor, job: OrderImport) -> OrderImport:
    """Import the checked file in one transaction: orders, lines and their order.paid events, in bulk.

    "All or nothing" imports nothing when a row is bad; "skip" imports the orders whose rows are all good.
    """
    _require(actor)
    job = OrderImport.objects.select_for_update().get(pk=job.pk)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code="already_imported")
    if job.status not in (ImportStatus.VALIDATED, ImportStatus.FAILED):
        raise DomainError(_("Check the file before importing it."), code="not_validated")
    started = time.monotonic()
    columns = _clean_mapping(job, job.mapping)
    parsed, checked, stores = _check(actor, job, columns)
    _report(job, parsed, checked)
    if parsed.errors and job.mode == ImportMode.ALL_OR_NOTHING:
        job.status = ImportStatus.FAILED
        job.order_count = job.line_count = 0
        job.report["result"] = "nothing_imported"
        job.save()
        return job
    orders_written, lines_written = _write(actor, job, checked, stores)
    job.status = ImportStatus.IMPORTED
    job.order_count, job.line_count = orders_written, lines_written
    job.report["result"] = "imported"
    job.report["seconds"] = round(time.monotonic() - started, 3)
    job.save()
    audit_record(actor=actor, action="order.import", obj=job, changes={
        "file": [None, job.file_name], "mode": [None, job.mode], "rows": [None, job.total_rows],
        "orders": [None, orders_written], "lines": [None, lines_written], "skipped_rows": [None, job.error_rows]})
    return job


def _write(actor, job: OrderImport, checked: _Checked, stores: dict) -> tuple[int, int]:
    """Insert the orders, their lines and their order.paid events (COPY on PostgreSQL, executemany elsewhere)."""
    if not checked.orders:
        return 0, 0
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    # Each order's store row (id, code, name), looked up once for the orders, the daily totals and the events.
    store_of = {o.order_no: (stores.get(o.store.upper()) or stores.get(o.store)) if o.store else None
                for o, *_rest in checked.orders}
    order_rows = []
    for (o, subtotal, paid, _priced), public_id in zip(checked.orders, _public_ids(len(checked.orders)), strict=True):
        store = store_of[o.order_no]
        order_rows.append((public_id, o.order_no, o.customer_id, o.channel, store[0] if store else None,
                           o.payment_method, subtotal, subtotal - paid, paid, o.paid_at, actor_id))
    _insert_rows(Order, ("public_id", "order_no", "customer_id", "channel", "store_id", "payment_method", "subtotal",
                         "discount", "paid_amount", "paid_at", "created_by_id"), order_rows,
                 fixed={"note": "", "idempotency_key": None})
    numbers = [o.order_no for o, *_rest in checked.orders]
    pks = dict(Order.objects.filter(_in_values("order_no", numbers)).order_by().values_list("order_no", "pk"))
    line_rows = [(pks[o.order_no], pk, category_id, quantity, price, discount, amount)
                 for o, _subtotal, _paid, priced in checked.orders
                 for pk, category_id, _category, _sku, quantity, price, discount, amount in priced]
    _insert_rows(OrderLine, ("order_id", "product_id", "category_id", "quantity", "unit_price", "discount", "amount"),
                 line_rows)
    day_orders, day_lines = [], []
    for o, _subtotal, paid, priced in checked.orders:
        day = local_day(o.paid_at)
        store = store_of[o.order_no]
        day_orders.append((day, store[1] if store else "", o.channel, paid))
        day_lines.extend((day, pk, category_id, amount, quantity)
                         for pk, category_id, _category, _sku, quantity, _price, _discount, amount in priced)
    rollup_orders(day_orders, day_lines)
    event_rows = []
    for (o, subtotal, paid, priced), public_id in zip(checked.orders, _public_ids(len(checked.orders)), strict=True):
        store = store_of[o.order_no]
        where = store[2] if store else OrderChannel(o.channel).label
        payload = {
            "order_no": o.order_no, "amount": str(paid), "currency": CURRENCY, "store": store[1] if store else "",
            "channel": o.channel, "categories": list(dict.fromkeys(line[2] for line in priced)),
            "lines": [{"sku": sku, "category": category, "quantity": quantity, "amount": str(amount)}
                      for _pk, _cid, category, sku, quantity, _price, _discount, amount in priced],
            "subtotal": str(subtotal), "discount": str(subtotal - paid), "payment_method": o.payment_method,
            "import": job.public_id}
        event_rows.append((public_id, o.customer_id, o.paid_at, o.channel, store[2] if store else "",
                           f"{where} ¥{paid} · {o.order_no}"[:200], payload,
                           paid_event_key_for(o.order_no)))
    # Written as history: no live dispatch, so no points now; the member club's back-fill applies them.
    _insert_rows(Event, ("public_id", "customer_id", "occurred_at", "channel", "touchpoint", "summary", "payload",
                         "idempotency_key"), event_rows, fixed={"type": "order.paid", "actor_id": actor_id})
    return len(order_rows), len(line_rows)

"""Customer exports to CSV (UTF-8 with BOM, opens in Excel) and XLSX, audited.

Cells are written as a person reads them, in the exporting user's language: choices as their labels, phones in
the national format, one column per consent channel. Nothing a spreadsheet opens runs as a formula: in XLSX every
text is a text cell; in CSV, which has no cell types, a value starting with = + - @ (or a tab, a carriage return)
gets a leading quote — phones, written nationally, start with a digit and never need it.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import PermissionDenied
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import Consent, ConsentChannel, Customer, CustomerTag
from fidelis.customers.normalize import format_phone
from fidelis.customers.selectors import customer_list_filtered, customer_search
from fidelis.customers.services import EDITABLE_FIELDS

EXPORT_FIELDS = EDITABLE_FIELDS
PHONE_FIELDS = frozenset({"phone", "phone_alt"})
CHOICE_FIELDS = tuple(f for f in EXPORT_FIELDS if Customer._meta.get_field(f).choices)
FILTERS = ("q", "category", "value_tier", "lifecycle_stage", "tag", "archived")
FORMATS = ("csv", "xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def neutralise(value: Any) -> Any:
    """Return a cell value that a spreadsheet will not run as a formula (a leading quote on = + - @ tab CR)."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def export_headers() -> list[str]:
    """Return the column titles in the current language: the fields, the tags, then one per consent channel."""
    headers = [str(capfirst(Customer._meta.get_field(f).verbose_name)) for f in EXPORT_FIELDS]
    headers.append(capfirst(_("tags")))
    headers += [_("Consent: %(channel)s") % {"channel": label} for label in ConsentChannel.labels]
    return headers


def customers_for_export(user, filters: dict[str, str]) -> QuerySet[Customer]:
    """Return the visible customers matching the list filters (q, category, value tier, stage, tag)."""
    qs = customer_list_filtered(user, **{k: filters.get(k) or "" for k in FILTERS if k != "q"})
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(pk__in=[c.pk for c in customer_search(user, q, limit=500)])
    return qs.order_by("pk")


def _row_maker() -> Callable[[tuple, list[str], dict[str, bool]], list[Any]]:
    """Return a function giving a customer's cells (text, dates, None) from their fields, tags and consents, with
    the labels of the current language looked up once for the whole export."""
    labels = {i: {value: str(label) for value, label in Customer._meta.get_field(field).flatchoices}
              for i, field in enumerate(EXPORT_FIELDS) if field in CHOICE_FIELDS}
    phones = {i for i, field in enumerate(EXPORT_FIELDS) if field in PHONE_FIELDS}
    states = {None: _("Not asked"), True: _("Granted"), False: _("Withdrawn")}
    channels = ConsentChannel.values

    def cell(i: int, value: Any) -> Any:
        if i in labels:
            return labels[i].get(value, value)
        if i in phones:
            return format_phone(value)
        return value

    def row(fields: tuple, tags: list[str], consents: dict[str, bool]) -> list[Any]:
        cells = [cell(i, value) for i, value in enumerate(fields)]
        cells.append(", ".join(tags))
        cells += [states[consents.get(channel)] for channel in channels]
        return cells

    return row


def _rows(qs: QuerySet[Customer]) -> Iterator[list[Any]]:
    """Yield the cells of each customer; the tags and consents are read for a chunk of customers at a time."""
    row = _row_maker()
    customers = qs.prefetch_related(None).values_list("pk", *EXPORT_FIELDS).iterator(chunk_size=CHUNK)
    while chunk := list(islice(customers, CHUNK)):
        ids = [fields[0] for fields in chunk]
        tags: dict[int, list[str]] = defaultdict(list)
        for customer_id, name in (CustomerTag.objects.filter(customer_id__in=ids)
                                  .order_by("tag__group", "tag__name").values_list("customer_id", "tag__name")):
            tags[customer_id].append(name)
        consents: dict[int, dict[str, bool]] = defaultdict(dict)
        for customer_id, channel, granted in (Consent.objects.filter(customer_id__in=ids)
                                              .values_list("customer_id", "channel", "granted")):
            consents[customer_id][channel] = granted
        for pk, *fields in chunk:
            yield row(fields, tags[pk], consents[pk])


@transaction.atomic(durable=True)
def customers_export_start(*, actor, filters: dict[str, str], fmt: str) -> QuerySet[Customer]:
    """Check the permission, audit the export (count and filter) and return the customers to write."""
    if not has_capability(actor, "customer.export"):
        raise PermissionDenied(_("You may not export customers."), code=CustomerCode.FORBIDDEN)
    clean = {k: v for k, v in filters.items() if k in FILTERS and v}
    qs = customers_for_export(actor, clean)
    audit_record(actor=actor, action="customer.export", object_type="customers.customer",
                 object_repr=_("Customer export"),
                 changes={"count": [None, qs.count()], "filter": [None, clean], "format": [None, fmt]})
    return qs


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(qs: QuerySet[Customer]) -> Iterator[str]:
    """Yield the CSV text line by line, starting with a BOM so that Excel reads UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(export_headers())
    for row in _rows(qs):
        yield writer.writerow([neutralise(value) for value in row])


def xlsx_bytes(qs: QuerySet[Customer]) -> bytes:
    """Return an XLSX workbook of the customers: texts, numbers and phones as text cells, birthdays as dates."""
    return xlsx_workbook(str(_("Customers")), chain([export_headers()], _rows(qs)))


def xlsx_workbook(title: str, rows: Iterable[list[Any]]) -> bytes:
    """Return an XLSX workbook of one sheet holding the rows (written in openpyxl's streaming mode): each value as
    its type (text, number, date), a text that looks like a formula kept as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)

    def text_cell(value: str) -> WriteOnlyCell:
        # openpyxl takes a text starting with "=" for a formula: say it is text (and keep it so when edited).
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell

    def cells(row: list[Any]) -> list[Any]:
        return [text_cell(v) if isinstance(v, str) and v.startswith("=") else v for v in row]

    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

"""Customer exports to CSV (UTF-8 with BOM, opens in Excel) and XLSX; formula injection neutralised; audited."""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import PermissionDenied
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_list_filtered, customer_search
from fidelis.customers.services import EDITABLE_FIELDS

EXPORT_FIELDS = EDITABLE_FIELDS
FILTERS = ("q", "category", "value_tier", "lifecycle_stage", "tag")
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
    """Return the column titles: the fields' labels, then tags."""
    return [str(Customer._meta.get_field(f).verbose_name) for f in EXPORT_FIELDS] + [_("tags")]


def customers_for_export(user, filters: dict[str, str]) -> QuerySet[Customer]:
    """Return the visible customers matching the list filters (q, category, value tier, stage, tag)."""
    qs = customer_list_filtered(user, **{k: filters.get(k) or "" for k in FILTERS if k != "q"})
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(pk__in=[c.pk for c in customer_search(user, q, limit=500)])
    return qs.order_by("pk")


def _rows(qs: QuerySet[Customer]) -> Iterator[list[Any]]:
    for customer in qs.iterator(chunk_size=CHUNK):
        row = [neutralise(getattr(customer, f)) for f in EXPORT_FIELDS]
        row.append(neutralise(", ".join(t.name for t in customer.tags.all())))
        yield row


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
        yield writer.writerow(row)


def xlsx_bytes(qs: QuerySet[Customer]) -> bytes:
    """Return an XLSX workbook of the customers (written in openpyxl's streaming mode)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Customers"))
    sheet.append(export_headers())
    for row in _rows(qs):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

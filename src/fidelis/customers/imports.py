"""Customer imports from CSV or XLSX: upload, column mapping, dry run, then one fast transaction."""

import csv
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import charset_normalizer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.dedupe import _pairs, _row, _rows_matching, duplicate_candidates_store
from fidelis.customers.models import (
    Category,
    CompanySize,
    Customer,
    CustomerKind,
    CustomerTag,
    Gender,
    ImportJob,
    ImportMode,
    ImportStatus,
    LifecycleStage,
    Tag,
    ValueTier,
)
from fidelis.customers.normalize import InvalidPhone, normalize_phone, phone_search_digits
from fidelis.customers.services import EDITABLE_FIELDS, customer_number_next, customer_prepare
from fidelis.events.models import Channel, Event

IGNORE = "ignore"
TAGS = "tags"
IMPORT_FIELDS = (*EDITABLE_FIELDS, TAGS)
BATCH = 2000
LOOKUP_CHUNK = 500
MAX_REPORTED_ERRORS = 1000
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}

# Header words (lower case, no spaces) that name a customer field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("客户编号", "编号", "客户号", "number", "customernumber", "customerno", "no", "id"),
    "kind": ("类型", "客户类型", "kind", "type"),
    "name": ("姓名", "名字", "客户名称", "名称", "客户姓名", "name", "fullname", "customername"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birthdate", "dateofbirth", "dob"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "移动电话", "phone", "mobile", "mobilephone",
              "cellphone", "tel", "telephone"),
    "phone_alt": ("其他电话", "备用电话", "座机", "固定电话", "phonealt", "otherphone", "landline"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "e-mail", "mail"),
    "wechat_id": ("微信", "微信号", "wechat", "wechatid", "weixin"),
    "province": ("省份", "省", "province", "state"),
    "city": ("城市", "市", "city"),
    "district": ("区县", "区", "district"),
    "address": ("地址", "详细地址", "address"),
    "company_name": ("公司", "公司名称", "单位", "工作单位", "企业", "company", "companyname", "employer"),
    "industry": ("行业", "industry"),
    "company_size": ("公司规模", "规模", "companysize", "size"),
    "occupation": ("职业", "职位", "occupation", "job", "jobtitle", "title"),
    "interests": ("兴趣", "爱好", "兴趣爱好", "interests", "hobbies"),
    "special_requests": ("特殊要求", "特殊需求", "specialrequests"),
    "notes": ("备注", "说明", "notes", "note", "remarks", "comment"),
    "category": ("类别", "客户类别", "分类", "category"),
    "value_tier": ("价值等级", "价值", "valuetier", "value", "tier"),
    "lifecycle_stage": ("生命周期阶段", "生命周期", "阶段", "lifecyclestage", "lifecycle", "stage"),
    "source": ("来源", "渠道", "source"),
    TAGS: ("标签", "tags", "tag", "labels"),
}
_ALIAS_TO_FIELD = {alias: field for field, aliases in HEADER_ALIASES.items() for alias in aliases}
_TAG_SPLIT = re.compile(r"[,，;；|、]")
_HEADER_NOISE = re.compile(r"[\s_\-()（）*:：]")
CHOICES = {
    "kind": CustomerKind, "gender": Gender, "company_size": CompanySize, "category": Category,
    "value_tier": ValueTier, "lifecycle_stage": LifecycleStage,
}
EXTRA_CHOICE_WORDS = {
    "gender": {"男": "male", "女": "female", "m": "male", "f": "female", "未知": "", "unknown": ""},
    "kind": {"个人": "individual", "person": "individual", "公司": "company", "企业": "company"},
    # The glossary's words, so that Chinese files import before the translations are compiled.
    "category": {"潜在": "potential", "潜在客户": "potential", "基础": "basic", "基础客户": "basic",
                 "普通客户": "basic", "重点": "key", "重点客户": "key", "关键客户": "key"},
    "value_tier": {"高": "high", "高价值": "high", "中": "medium", "中价值": "medium", "低": "low", "低价值": "low"},
    "lifecycle_stage": {"感兴趣": "interested", "潜在": "interested", "关注者": "follower", "粉丝": "follower",
                        "会员": "member", "购买者": "buyer", "已购买": "buyer", "客户": "buyer",
                        "忠诚会员": "loyal", "忠诚客户": "loyal", "推荐者": "advocate", "倡导者": "advocate"},
    "company_size": {"微型": "micro", "小型": "small", "中型": "medium", "大型": "large"},
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S",
                "%Y/%m/%d %H:%M:%S", "%d/%m/%Y")


_MOBILE = re.compile(r"(?:\+?86)?(1\d{10})")
_PHONE_PUNCT = re.compile(r"[\s\-()]")


def _public_ids(count: int) -> list[str]:
    """Return `count` random public ids like core.models.new_public_id (64 random bits each), drawn in one go."""
    text = secrets.token_hex(8 * count)
    return [text[i * 16:(i + 1) * 16] for i in range(count)]


class _MobileCache(dict):
    """Whether a mainland mobile number is valid depends on its first five digits only (the metadata's mobile
    pattern); ask phonenumbers once per prefix. Only "valid" is trusted; other numbers take the full parse."""

    def __missing__(self, prefix: str) -> bool:
        try:
            valid = bool(normalize_phone(prefix + "000000"))
        except InvalidPhone:
            valid = False
        self[prefix] = valid
        return valid


def _fast_mobile(raw: str, cache: _MobileCache) -> str:
    """Return the E.164 form of a plain mainland mobile number (same as normalize_phone), or "" to leave it."""
    match = _MOBILE.fullmatch(_PHONE_PUNCT.sub("", raw))
    if match is None:
        return ""
    digits = match.group(1)
    return "+86" + digits if cache[digits[:5]] else ""


def _field_label(field: str) -> str:
    if field == TAGS:
        return _("tags")
    return str(Customer._meta.get_field(field).verbose_name)


def import_field_choices() -> list[tuple[str, str]]:
    """Return the fields a column can be mapped to, with their labels, and "ignore"."""
    return [(IGNORE, _("(ignore)"))] + [(f, _field_label(f)) for f in IMPORT_FIELDS]


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """Return a guess of the customer field each column holds (column index → field or "ignore")."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", header or "").lower())
        field = _ALIAS_TO_FIELD.get(key)
        if field is None and key in IMPORT_FIELDS:
            field = key
        if field is None or field in taken:
            mapping[str(index)] = IGNORE
        else:
            mapping[str(index)] = field
            taken.add(field)
    return mapping


def _choice_lookup() -> dict[str, dict[str, str]]:
    lookup: dict[str, dict[str, str]] = {}
    for field, choices in CHOICES.items():
        words: dict[str, str] = {}
        for language in ("en", "zh-hans", "zh-hant"):
            with translation.override(language):
                for value, label in choices.choices:
                    words[str(label).strip().lower()] = value
        for value in choices.values:
            if value:
                words[value] = value
        words.update(EXTRA_CHOICE_WORDS.get(field, {}))
        lookup[field] = words
    return lookup


# ---------------------------------------------------------------------------------------------------------------
# Reading files


def _check_upload(name: str, size: int) -> str:
    limit = settings.FIDELIS_IMPORT_MAX_BYTES
    if size > limit:
        raise DomainError(_("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
                          % {"size": round(size / 1048576, 1), "limit": round(limit / 1048576, 1)},
                          code="too_large", field="file")
    suffix = Path(name or "").suffix.lower()
    if suffix not in TEXT_SUFFIXES | XLSX_SUFFIXES:
        raise DomainError(_("Upload a CSV or XLSX file."), code="invalid_format", field="file")
    if size == 0:
        raise DomainError(_("The file is empty."), code="empty", field="file")
    return "xlsx" if suffix in XLSX_SUFFIXES else "csv"


def _decode(data: bytes) -> tuple[str, str]:
    """Return the text of a CSV file and its encoding; refuse what is not text."""
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or controls > len(sample) // 100:
        raise DomainError(_("This is not a text CSV file."), code="not_text", field="file")
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=["gb18030", "big5", "utf_16"]).best()
    encoding = best.encoding if best is not None else None
    if encoding is None:
        raise DomainError(_("This is not a text CSV file."), code="not_text", field="file")
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        raise DomainError(_("The file's characters cannot be read; save it as UTF-8."), code="bad_encoding",
                          field="file")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_rows(kind: str, data: bytes) -> tuple[list[list[str]], str]:
    """Return all rows (header first) as lists of strings, and the encoding."""
    if kind == "xlsx":
        import zipfile

        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise DomainError(_("This is not a readable XLSX file."), code="not_xlsx", field="file")
        try:
            sheet = workbook.worksheets[0]
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
        return rows, "xlsx"
    text, encoding = _decode(data)
    first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:
        raise DomainError(_("The CSV file is malformed."), code="bad_csv", field="file")
    return rows, encoding


def _job_rows(job: ImportJob) -> list[list[str]]:
    job.file.open("rb")
    try:
        data = job.file.read()
    finally:
        job.file.close()
    kind = "xlsx" if Path(job.file_name).suffix.lower() in XLSX_SUFFIXES else "csv"
    rows, _encoding = _read_rows(kind, data)
    return rows


def _split_header(rows: list[list[str]]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    # Drop trailing empty columns and blank rows; keep each data row's number as in the file (header = 1).
    while rows and not any(rows[0]):
        rows = rows[1:]
    if not rows:
        raise DomainError(_("The file has no header row."), code="no_header", field="file")
    headers = list(rows[0])
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise DomainError(_("The file has no header row."), code="no_header", field="file")
    data = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    return headers, data


def _require(actor) -> None:
    if not has_capability(actor, "customer.import"):
        raise PermissionDenied(_("You may not import customers."), code="forbidden")


# ---------------------------------------------------------------------------------------------------------------
# Services


@transaction.atomic
def import_job_create(*, actor, uploaded_file) -> ImportJob:
    """Store an uploaded CSV/XLSX file, read its header row and guess the column mapping."""
    _require(actor)
    name = Path(getattr(uploaded_file, "name", "") or "import.csv").name[:200]
    size = getattr(uploaded_file, "size", None)
    kind = _check_upload(name, size if size is not None else 0)
    data = uploaded_file.read()
    _check_upload(name, len(data))
    rows, encoding = _read_rows(kind, data)
    headers, data_rows = _split_header(rows)
    if not data_rows:
        raise DomainError(_("The file has a header row but no data rows."), code="no_rows", field="file")
    job = ImportJob(file_name=name, encoding=encoding, headers=headers, mapping=guess_mapping(headers),
                    total_rows=len(data_rows), created_by=actor if actor.is_authenticated else None)
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    audit_record(actor=actor, action="customer.import_upload", obj=job,
                 changes={"file": [None, name], "rows": [None, len(data_rows)]})
    return job


def _clean_mapping(job: ImportJob, mapping: dict[str, str]) -> dict[int, str]:
    result: dict[int, str] = {}
    seen: set[str] = set()
    for key, field in (mapping or {}).items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            continue
        if field in (IGNORE, "", None) or index >= len(job.headers) or index < 0:
            continue
        if field not in IMPORT_FIELDS:
            raise DomainError(_("Unknown field: %(field)s") % {"field": field}, code="unknown_field", field="mapping")
        if field in seen:
            raise DomainError(_("Two columns are mapped to “%(field)s”.") % {"field": _field_label(field)},
                              code="mapped_twice", field="mapping")
        seen.add(field)
        result[index] = field
    if "name" not in seen:
        raise DomainError(_("Map one column to the name."), code="name_unmapped", field="mapping")
    return result


class _Parsed:
    """The outcome of checking every row: customers ready to write, their tags, and the errors."""

    def __init__(self) -> None:
        self.customers: list[Customer] = []
        self.tags: list[list[tuple[str, str]]] = []
        self.rows: list[int] = []
        self.errors: list[dict[str, Any]] = []
        self.bad_rows: set[int] = set()

    def error(self, row: int, column: str, message: str) -> None:
        self.bad_rows.add(row)
        self.errors.append({"row": row, "column": column, "message": str(message)})


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _parse_date(text: str) -> date | None:
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _parse_rows(headers: list[str], rows: list[tuple[int, list[str]]], mapping: dict[int, str]) -> _Parsed:
    parsed = _Parsed()
    lookups = _choice_lookup()
    max_lengths = {f: Customer._meta.get_field(f).max_length for f in EDITABLE_FIELDS}
    column_of = {field: headers[index] for index, field in mapping.items()}
    name_column = column_of["name"]
    numbers_in_file: dict[str, int] = {}
    items = list(mapping.items())
    mobiles = _MobileCache()
    for row_number, row in rows:
        data: dict[str, Any] = {}
        tags: list[tuple[str, str]] = []
        ok = True
        width = len(row)
        for index, field in items:
            raw = row[index] if index < width else ""
            if not raw:
                continue
            column = headers[index]
            if field == TAGS:
                for part in _TAG_SPLIT.split(raw):
                    tag = part.strip()
                    if not tag:
                        continue
                    group, _sep, tname = tag.partition(":") if ":" in tag else ("", "", tag)
                    group, tname = group.strip(), tname.strip()
                    if not tname or len(tname) > 40 or len(group) > 40:
                        parsed.error(row_number, column, _("A tag is 1 to 40 characters long."))
                        ok = False
                        break
                    tags.append((group, tname))
                continue
            if field in CHOICES:
                value = lookups[field].get(raw.strip().lower())
                if value is None:
                    parsed.error(row_number, column, _("“%(value)s” is not one of the choices for %(field)s.")
                                 % {"value": raw, "field": _field_label(field)})
                    ok = False
                    continue
                data[field] = value
                continue
            if field == "birthday":
                day = _parse_date(raw)
                if day is None:
                    parsed.error(row_number, column, _("“%(value)s” is not a date (use YYYY-MM-DD).")
                                 % {"value": raw})
                    ok = False
                    continue
                data[field] = day
                continue
            if field == "email":
                raw = raw.lower()
                try:
                    validate_email(raw)
                except ValidationError:
                    parsed.error(row_number, column, _("“%(value)s” is not a valid e-mail address.")
                                 % {"value": raw})
                    ok = False
                    continue
            limit = max_lengths.get(field)
            if limit and len(raw) > limit:
                parsed.error(row_number, column, _("Longer than %(limit)s characters.") % {"limit": limit})
                ok = False
                continue
            data[field] = raw
        if not data.get("name"):
            parsed.error(row_number, name_column, _("A customer needs a name."))
            ok = False
        # Plain mobile numbers skip the slow full parse; the result is what normalize_phone gives.
        fast = {}
        for field in ("phone", "phone_alt"):
            e164 = _fast_mobile(data[field], mobiles) if data.get(field) else ""
            if e164:
                fast[field] = e164
                data[field] = ""
        customer = Customer(public_id="", **data)
        try:
            customer_prepare(customer)
        except DomainError as exc:
            parsed.error(row_number, column_of.get(exc.field or "", exc.field or ""), exc.message)
            ok = False
        if "phone" in fast:
            customer.phone = fast["phone"]
            customer.phone_digits = phone_search_digits(customer.phone)
            customer.phone_reversed = customer.phone_digits[::-1]
        if "phone_alt" in fast:
            customer.phone_alt = fast["phone_alt"]
            customer.phone_alt_digits = phone_search_digits(customer.phone_alt)
        if customer.number:
            first = numbers_in_file.get(customer.number)
            if first is not None:
                parsed.error(row_number, column_of["number"],
                             _("Customer number %(number)s appears twice in the file (row %(row)s).")
                             % {"number": customer.number, "row": first})
                ok = False
            else:
                numbers_in_file[customer.number] = row_number
        if ok:
            if not customer.source:
                customer.source = "import"
            parsed.customers.append(customer)
            parsed.tags.append(tags)
            parsed.rows.append(row_number)
    if numbers_in_file:
        taken: set[str] = set()
        for chunk in _chunks(list(numbers_in_file)):
            taken.update(Customer.objects.filter(number__in=chunk).order_by().values_list("number", flat=True))
        if taken:
            for number in sorted(taken, key=numbers_in_file.get):
                parsed.error(numbers_in_file[number], column_of["number"],
                             _("Customer number %(number)s is already taken.") % {"number": number})
            keep = [i for i, c in enumerate(parsed.customers) if c.number not in taken]
            parsed.customers = [parsed.customers[i] for i in keep]
            parsed.tags = [parsed.tags[i] for i in keep]
            parsed.rows = [parsed.rows[i] for i in keep]
    parsed.errors.sort(key=lambda e: e["row"])
    return parsed


def _report(job: ImportJob, parsed: _Parsed, total: int) -> None:
    job.total_rows = total
    job.error_rows = len(parsed.bad_rows)
    job.report = {
        "errors": parsed.errors[:MAX_REPORTED_ERRORS],
        "error_count": len(parsed.errors),
        "good_rows": len(parsed.customers),
        "checked_at": timezone.now().isoformat(),
    }


@transaction.atomic
def import_job_validate(*, actor, job: ImportJob, mapping: dict[str, str], mode: str) -> ImportJob:
    """Check every row against the mapping (a dry run): report bad rows, write no customer."""
    _require(actor)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code="already_imported")
    if mode not in ImportMode.values:
        raise DomainError(_("Choose how to treat bad rows."), code="invalid_mode", field="mode")
    columns = _clean_mapping(job, mapping)
    headers, rows = _split_header(_job_rows(job))
    parsed = _parse_rows(headers, rows, columns)
    job.mapping = {str(i): columns.get(i, IGNORE) for i in range(len(job.headers))}
    job.mode = mode
    job.status = ImportStatus.VALIDATED
    _report(job, parsed, len(rows))
    job.save()
    return job


def _insert_rows(model: type[models.Model], objects: list[models.Model] | list[dict[str, Any]]) -> None:
    """Insert model instances (or dicts of column values): COPY on PostgreSQL, executemany by batch elsewhere.

    bulk_create spends most of its time compiling SQL value by value (and SQLite's 999-parameter limit makes
    its batches tiny); an import of 100,000 rows needs the plain parameterised INSERT.
    """
    if not objects:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    ops = connection.ops
    converters = []
    as_dicts = [obj if isinstance(obj, dict) else obj.__dict__ for obj in objects]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for values in as_dicts:
                values[field.attname] = now
        elif field.attname not in as_dicts[0]:
            default = field.get_default()
            for values in as_dicts:
                values.setdefault(field.attname, default)
        if isinstance(field, models.DateTimeField):
            converters.append(ops.adapt_datetimefield_value)
        elif isinstance(field, models.DateField):
            converters.append(ops.adapt_datefield_value)
        elif isinstance(field, models.JSONField):
            converters.append(lambda v, f=field: f.get_db_prep_save(v, connection))
        else:
            converters.append(None)
    attnames = [f.attname for f in fields]
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    plan = list(zip(attnames, converters, strict=True))
    if connection.vendor == "postgresql":
        # COPY streams the rows in one statement: executemany pays a server round trip per row.
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY {ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for values in as_dicts:
                copy.write_row(tuple(values[a] if conv is None or values[a] is None else conv(values[a])
                                     for a, conv in plan))
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite" and len(as_dicts) > BATCH:
            # Random public ids land all over the unique indexes; a larger page cache keeps them in memory.
            cursor.execute("PRAGMA cache_size = -131072")
        for start in range(0, len(as_dicts), BATCH):
            rows = []
            for values in as_dicts[start:start + BATCH]:
                rows.append(tuple(values[a] if conv is None or values[a] is None else conv(values[a])
                                  for a, conv in plan))
            cursor.executemany(sql, rows)


def _tags_ensure(all_tags: Iterable[tuple[str, str]]) -> dict[str, Tag]:
    wanted = {name: group for group, name in all_tags}
    if not wanted:
        return {}
    existing: dict[str, Tag] = {}
    names = list(wanted)
    for chunk in _chunks(names):
        existing.update({t.name: t for t in Tag.objects.filter(name__in=chunk)})
    missing = [Tag(name=n, group=wanted[n]) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, batch_size=BATCH, ignore_conflicts=True)
        for chunk in _chunks([t.name for t in missing]):
            existing.update({t.name: t for t in Tag.objects.filter(name__in=chunk)})
    return existing


@transaction.atomic
def import_job_run(*, actor, job: ImportJob) -> ImportJob:
    """Import the checked file: all rows or none ("all"), or the good rows only ("skip"); flag duplicates."""
    _require(actor)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code="already_imported")
    if job.status != ImportStatus.VALIDATED:
        raise DomainError(_("Check the file before importing it."), code="not_validated")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code="already_imported")
    columns = _clean_mapping(job, job.mapping)
    headers, rows = _split_header(_job_rows(job))
    parsed = _parse_rows(headers, rows, columns)
    _report(job, parsed, len(rows))
    if parsed.errors and job.mode == ImportMode.ALL_OR_NOTHING:
        job.status = ImportStatus.FAILED
        job.created_count = job.duplicate_count = 0
        job.report["result"] = "nothing_imported"
        job.save()
        return job
    customers = parsed.customers
    without_number = [c for c in customers if not c.number]
    if without_number:
        for customer, number in zip(without_number, customer_number_next(count=len(without_number)), strict=True):
            customer.number = number
    # Stored records sharing a key are read before the insert, so the lookups never fetch the new rows.
    stored = _rows_matching({c.phone_digits for c in customers if c.phone_digits} |
                            {c.phone_alt_digits for c in customers if c.phone_alt_digits},
                            {c.email_normalized for c in customers if c.email_normalized},
                            {c.company_key for c in customers if c.company_key}, set())
    for customer, public_id in zip(customers, _public_ids(len(customers)), strict=True):
        customer.public_id = public_id
    _insert_rows(Customer, customers)
    by_number: dict[str, int] = {}
    for chunk in _chunks([c.number for c in customers]):
        by_number.update(Customer.objects.filter(number__in=chunk).order_by().values_list("number", "pk"))
    for customer in customers:
        customer.pk = by_number[customer.number]
    new_pks = {c.pk for c in customers}
    tag_objects = _tags_ensure(t for tags in parsed.tags for t in tags)
    links = {(c.pk, tag_objects[name].pk) for c, tags in zip(customers, parsed.tags, strict=True)
             for _group, name in tags}
    _insert_rows(CustomerTag, [{"customer_id": c, "tag_id": t} for c, t in links])
    rows = [_row(c.pk, c.phone_digits, c.phone_alt_digits, c.email_normalized, c.company_key, c.name_pinyin,
                 c.name) for c in customers]
    pairs = [(a, b, reason, score) for (a, b), (reason, score) in _pairs([*rows, *stored], new_pks).items()]
    duplicate_candidates_store(pairs)
    flagged = {pk for a, b, _reason, _score in pairs for pk in (a, b) if pk in new_pks}
    now = timezone.now()
    event_actor = actor if getattr(actor, "is_authenticated", False) else None
    summary = _("Customer record imported from %(file)s") % {"file": job.file_name}
    _insert_rows(Event, [
        {"public_id": public_id, "customer_id": c.pk, "type": "customer.created", "occurred_at": now,
         "channel": Channel.IMPORT, "touchpoint": "", "summary": summary[:200], "payload": {"import": job.public_id},
         "idempotency_key": None, "actor_id": event_actor.pk if event_actor else None, "created_at": now}
        for c, public_id in zip(customers, _public_ids(len(customers)), strict=True)])
    job.status = ImportStatus.IMPORTED
    job.created_count = len(customers)
    job.duplicate_count = len(flagged)
    job.report["result"] = "imported"
    job.save()
    audit_record(actor=actor, action="customer.import", obj=job, changes={
        "file": [None, job.file_name], "mode": [None, job.mode], "rows": [None, job.total_rows],
        "created": [None, job.created_count], "skipped": [None, job.error_rows],
        "duplicates": [None, job.duplicate_count]})
    return job

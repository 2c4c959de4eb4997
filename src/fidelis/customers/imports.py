"""Customer imports from CSV or XLSX: upload, column mapping, dry run, then one fast transaction."""

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from functools import cache, partial
from itertools import chain, compress, islice, repeat
from operator import and_, attrgetter, itemgetter, ne, or_
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import EmailValidator, validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.bulk import ids_reserve, rows_insert
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
from fidelis.core.tabular import Table, header_key
from fidelis.customers.dedupe import (
    MATCH_FIELDS,
    REASON_EMAIL,
    REASON_LABELS,
    REASON_PHONE,
    MatchRow,
    match_candidates,
    match_pairs,
    match_row,
)
from fidelis.customers.models import (
    Category,
    CompanySize,
    Customer,
    CustomerKind,
    CustomerTag,
    DuplicateCandidate,
    Gender,
    ImportJob,
    LifecycleStage,
    Tag,
    ValueTier,
)
from fidelis.customers.normalize import nfkc
from fidelis.customers.selectors import customer_visible_condition
from fidelis.customers.services import EDITABLE_FIELDS, customer_number_next, customer_prepare
from fidelis.events.models import Channel
from fidelis.events.services import record_event_rows

IGNORE = "ignore"
TAGS = "tags"
IMPORT_FIELDS = (*EDITABLE_FIELDS, TAGS)
BATCH = 2000
LOOKUP_CHUNK = 500

# Header words (lower case, no spaces) that name a customer field.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("客户编号", "编号", "客户号", "number", "customernumber", "customerno", "no", "id"),
    "kind": ("类型", "客户类型", "kind", "type"),
    "name": ("姓名", "名字", "客户名称", "名称", "客户姓名", "name", "fullname", "customername"),
    "gender": ("性别", "gender", "sex"),
    "birthday": ("生日", "出生日期", "birthday", "birthdate", "dateofbirth", "dob"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "联络电话", "移动电话", "行动电话", "phone", "mobile", "mobilephone",
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


_MOBILE = re.compile(r"(?:\+?86)?(1[0-9]{10})")
_PHONE_PUNCT = re.compile(r"[\s\-()]")


@cache
def _mobile_prefix_valid(prefix: str) -> bool:
    """Return whether mainland mobile numbers starting with these five digits are valid.

    That depends on the first five digits only (the metadata's mobile pattern), so phonenumbers is asked once per
    prefix (at most 10,000 of them), with the number built directly: parsing the text is the slow part. Only
    "valid" is trusted; the other numbers take the full parse.
    """
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(prefix + "000000"))
    return phonenumbers.is_valid_number(number)


def _fast_mobile_digits(raw: str) -> str:
    """Return the 11 digits of a plain mainland mobile number (normalize_phone gives "+86" and them in the region
    CN, phone_search_digits them), or "" to leave it to normalize_phone."""
    match = _MOBILE.fullmatch(_PHONE_PUNCT.sub("", nfkc(raw)))
    if match is None:
        return ""
    digits = match.group(1)
    return digits if _mobile_prefix_valid(digits[:5]) else ""


def fast_mobile(raw: str) -> str:
    """Return the E.164 form of a plain mainland mobile number (what normalize_phone gives in the region CN), or ""
    to leave it to normalize_phone."""
    digits = _fast_mobile_digits(raw)
    return "+86" + digits if digits else ""


# validate_email's own two patterns, compiled here: reaching its lazily compiled ones costs more than matching
# them (measured: a fifth of the check of 100,000 rows with e-mail addresses).
_EMAIL_USER = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)


def _email_valid(value: str) -> bool:
    """Return whether validate_email accepts the address: what its usual path accepts is decided here, the rest
    (address literals, allowed hosts, refusals) by validate_email itself."""
    if len(value) <= 320:
        user, at, domain = value.rpartition("@")
        if at and _EMAIL_USER.match(user) and _EMAIL_DOMAIN.match(domain):
            return True
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


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
        key = header_key(header)
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
                    words[header_key(str(label))] = value
        for value in choices.values:
            if value:
                words[header_key(value)] = value
        words.update({header_key(word): value for word, value in EXTRA_CHOICE_WORDS.get(field, {}).items()})
        lookup[field] = words
    return lookup


# ---------------------------------------------------------------------------------------------------------------
# Reading files


def _require(actor) -> None:
    if not has_capability(actor, "customer.import"):
        raise PermissionDenied(_("You may not import customers."), code=ImportCode.FORBIDDEN)


# ---------------------------------------------------------------------------------------------------------------
# Services


@transaction.atomic(durable=True)
def import_job_create(*, actor, uploaded_file) -> ImportJob:
    """Store an uploaded CSV/XLSX file, read its header row and guess the column mapping."""
    _require(actor)
    upload = read_upload(uploaded_file, "import.csv")
    job = ImportJob(file_name=upload.name, encoding=upload.encoding, sheets=upload.sheets, sheet=upload.sheet,
                    headers=upload.headers, mapping=guess_mapping(upload.headers), total_rows=upload.rows,
                    created_by=actor if actor.is_authenticated else None)
    job.file.save(upload.name, ContentFile(upload.data), save=False)
    job.save()
    audit_record(actor=actor, action="customer.import_upload", obj=job,
                 changes={"file": [None, upload.name], "rows": [None, upload.rows]})
    return job


@transaction.atomic(durable=True)
def import_job_sheet_choose(*, actor, job: ImportJob, sheet: str) -> ImportJob:
    """Read the workbook's sheet `sheet` instead: its header row, a new guess of the mapping, to be checked again."""
    _require(actor)
    upload = sheet_read(job, sheet)
    changes = sheet_apply(job, upload, guess_mapping(upload.headers))
    job.save()
    audit_record(actor=actor, action="customer.import_sheet", obj=job, changes=changes)
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
            raise DomainError(_("Unknown field: %(field)s") % {"field": field}, code=ImportCode.UNKNOWN_FIELD, field="mapping")
        if field in seen:
            raise DomainError(_("Two columns are mapped to “%(field)s”.") % {"field": _field_label(field)},
                              code=ImportCode.MAPPED_TWICE, field="mapping")
        seen.add(field)
        result[index] = field
    if "name" not in seen:
        raise DomainError(_("Map one column to the name."), code=ImportCode.NAME_UNMAPPED, field="mapping")
    return result


# The values of a checked row, in this order: the editable fields, then the search keys customer_prepare derives.
ROW_FIELDS = (*EDITABLE_FIELDS, "name_pinyin", "name_initials", "phone_digits", "phone_reversed",
              "phone_alt_digits", "email_normalized", "company_key")
_AT = {field: index for index, field in enumerate(ROW_FIELDS)}
# Bump when checking gives other values: rows stored by the check step of an older version are then read again.
CHECKED_FORMAT = 4
# Rows checked, stored and imported at a time: an import holds one chunk of rows, whatever the file's length.
CHUNK_ROWS = 5000


class _Chunk:
    """The outcome of checking a run of rows: the values of the good rows, their tags, and the errors."""

    def __init__(self) -> None:
        self.values: list[list[Any]] = []  # one list of ROW_FIELDS per good row
        self.tags: list[list[tuple[str, str]]] = []
        self.rows: list[int] = []
        self.errors: list[dict[str, Any]] = []
        self.bad_rows: set[int] = set()

    def error(self, row: int, column: str, message: str) -> None:
        self.bad_rows.add(row)
        self.errors.append({"row": row, "column": column, "message": str(message)})

    def keep(self, kept: list[int]) -> None:
        """Keep only the good rows at these positions."""
        self.values = [self.values[i] for i in kept]
        self.tags = [self.tags[i] for i in kept]
        self.rows = [self.rows[i] for i in kept]


class _DuplicateHints:
    """The good rows of a file that look like a customer already there: a stored customer the actor sees with the
    same phone or e-mail (the keys the import's duplicate detection compares, normalised as the archive stores
    them), or an earlier row of the file."""

    def __init__(self, actor) -> None:
        self.visible = customer_visible_condition(actor)
        self.first_phone: dict[str, int] = {}  # each key of the file read so far → its first row
        self.first_email: dict[str, int] = {}
        self.hints = FirstHints()

    def add(self, chunk: _Chunk) -> None:
        """Add the hints of a chunk of checked rows (chunks in the file's order): one query for the chunk."""
        rows, values = chunk.rows, chunk.values
        phones = list(map(itemgetter(_AT["phone_digits"]), values))
        alts = list(map(itemgetter(_AT["phone_alt_digits"]), values))
        if any(alts):
            alts = [alt if alt != phone else "" for phone, alt in zip(phones, alts, strict=True)]
            # Each phone's first row, the two columns in the file's order.
            firsts = list(map(self.first_phone.setdefault, chain.from_iterable(zip(phones, alts, strict=True)),
                              chain.from_iterable(zip(rows, rows, strict=True))))
            first_phones, first_alts = firsts[0::2], firsts[1::2]
        else:
            first_phones, first_alts = list(map(self.first_phone.setdefault, phones, rows)), rows
        emails = list(map(itemgetter(_AT["email_normalized"]), values))
        first_emails = list(map(self.first_email.setdefault, emails, rows))
        self.first_phone.pop("", None)
        self.first_email.pop("", None)
        by_phone, by_email = self._stored(set(phones) | set(alts), set(emails))

        def flags(keys: list[str], firsts: list[int], found: dict) -> Iterator[bool]:
            # A key that is set and repeats an earlier row's or is a stored customer's.
            return map(and_, map(bool, keys), map(or_, map(ne, firsts, rows), map(found.__contains__, keys)))

        # Most rows share no key with an earlier row or a stored customer: only those that do are looked at one by
        # one (the rest is mapped over the columns).
        shared = map(or_, map(or_, flags(phones, first_phones, by_phone), flags(alts, first_alts, by_phone)),
                     flags(emails, first_emails, by_email))
        add = self.hints.add
        for i in compress(range(len(rows)), shared):
            row, named = rows[i], 0
            for reason, key, first, found in ((REASON_PHONE, phones[i], first_phones[i], by_phone),
                                              (REASON_PHONE, alts[i], first_alts[i], by_phone),
                                              (REASON_EMAIL, emails[i], first_emails[i], by_email)):
                if not key:
                    continue
                customer = found.get(key)
                if customer is not None and customer[0] != named:
                    named = customer[0]
                    add(row, reason, key, customer=list(customer[1:]))
                if first != row:
                    add(row, reason, key, other_row=first)

    def _stored(self, phones: set[str], emails: set[str]) -> tuple[dict, dict]:
        """Return the stored customers the actor sees by phone and by e-mail: (key, public id, number, name) of the
        oldest customer of each key, in one query."""
        phones.discard("")
        emails.discard("")
        condition = Q()
        # Sorted: the index lookups then go through each index in order.
        phone_keys, email_keys = sorted(phones), sorted(emails)
        for column, keys in (("phone_digits", phone_keys), ("phone_alt_digits", phone_keys),
                             ("email_normalized", email_keys)):
            if keys:
                condition |= Q(in_values(column, keys))
        by_phone: dict[str, tuple[int, str, str, str]] = {}
        by_email: dict[str, tuple[int, str, str, str]] = {}
        if not condition:
            return by_phone, by_email
        for pk, public_id, number, name, phone, alt, email in (
                match_candidates().filter(self.visible).filter(condition).order_by("-pk")
                .values_list("pk", "public_id", "number", "name", "phone_digits", "phone_alt_digits",
                             "email_normalized")):
            customer = (pk, public_id, number, name)
            for found, key in ((by_phone, phone), (by_phone, alt), (by_email, email)):
                if key:
                    found[key] = customer  # newest first: the oldest stays
        return by_phone, by_email


def duplicate_hints(job) -> list[dict[str, Any]]:
    """Return the duplicate hints of a job's check (customer or order import), each with its reason's label."""
    labels = {**REASON_LABELS, "order_no": _("Same order number")}
    return [{**hint, "reason_label": labels.get(hint.get("reason"), "")}
            for hint in job.report.get("duplicate_hints", [])]


class _Summary:
    """What checking the whole file found, as the report shows it: the first errors, the counts, the warnings."""

    def __init__(self) -> None:
        self.errors = FirstErrors()
        self.bad_rows = 0
        self.good_rows = 0
        self.total = 0
        self.warnings: list[dict[str, Any]] = []  # cells read with a doubt (a formula without a value)
        self.warning_count = 0

    def add(self, chunk: _Chunk) -> None:
        for error in chunk.errors:
            self.errors.add(error["row"], error["column"], error["message"])
        self.bad_rows += len(chunk.bad_rows)
        self.good_rows += len(chunk.values)


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


def _parse_rows(headers: list[str], rows: Iterable[tuple[int, list[str]]], mapping: dict[int, str],
                numbers_in_file: dict[str, int]) -> _Chunk:
    """Check rows of the file on their own (the database is not asked); return the values of the good rows.

    `numbers_in_file` maps each customer number seen so far in the file to its first row; the rows read are added.
    """
    parsed = _Chunk()
    lookups = _choice_lookup()
    max_lengths = {f: Customer._meta.get_field(f).max_length for f in EDITABLE_FIELDS}
    column_of = {field: headers[index] for index, field in mapping.items()}
    name_column = column_of["name"]
    items = [(index, field, headers[index], max_lengths.get(field)) for index, field in mapping.items()]
    special = {TAGS, "birthday", "email", *CHOICES}
    fast_phones = settings.FIDELIS_DEFAULT_REGION == "CN"
    # One Customer is the scratch pad of every row: customer_prepare stays the one normalisation, and no model
    # instance is built per row.
    scratch = Customer(public_id="")
    state = vars(scratch)
    blank: dict[str, Any] = {}
    for field in ROW_FIELDS:
        value = getattr(scratch, field)
        blank[field] = str(value) if isinstance(value, str) else value  # choices' defaults as plain strings
    values_of = attrgetter(*ROW_FIELDS)
    for row_number, row in rows:
        data: dict[str, Any] = {}
        tags: list[tuple[str, str]] = []
        ok = True
        width = len(row)
        for index, field, column, limit in items:
            raw = row[index] if index < width else ""
            if not raw:
                continue
            if field not in special:
                if limit and len(raw) > limit:
                    parsed.error(row_number, column, _("Longer than %(limit)s characters.") % {"limit": limit})
                    ok = False
                    continue
                data[field] = raw
                continue
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
                value = lookups[field].get(header_key(raw))
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
                raw = nfkc(raw).lower()
                if not _email_valid(raw):
                    parsed.error(row_number, column, _("“%(value)s” is not a valid e-mail address.")
                                 % {"value": raw})
                    ok = False
                    continue
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
        if fast_phones:
            for field in ("phone", "phone_alt"):
                digits = _fast_mobile_digits(data[field]) if field in data else ""
                if digits:
                    fast[field] = digits
                    data[field] = ""
        state.update(blank)
        state.update(data)
        try:
            customer_prepare(scratch)
        except DomainError as exc:
            parsed.error(row_number, column_of.get(exc.field or "", exc.field or ""), exc.message)
            ok = False
        if fast:
            if "phone" in fast:
                digits = fast["phone"]
                state["phone"], state["phone_digits"], state["phone_reversed"] = "+86" + digits, digits, digits[::-1]
            if "phone_alt" in fast:
                digits = fast["phone_alt"]
                state["phone_alt"], state["phone_alt_digits"] = "+86" + digits, digits
        number = scratch.number
        if number:
            first = numbers_in_file.get(number)
            if first is not None:
                parsed.error(row_number, column_of["number"],
                             _("Customer number %(number)s appears twice in the file (row %(row)s).")
                             % {"number": number, "row": first})
                ok = False
            else:
                numbers_in_file[number] = row_number
        if ok:
            if not scratch.source:
                scratch.source = "import"
            parsed.values.append(list(values_of(scratch)))
            parsed.tags.append(tags)
            parsed.rows.append(row_number)
    return parsed


def _drop_taken_numbers(chunk: _Chunk, number_column: str) -> None:
    """Report the rows of the chunk whose customer number is already stored, and leave them out."""
    at = _AT["number"]
    numbers = {values[at]: row for values, row in zip(chunk.values, chunk.rows, strict=True) if values[at]}
    if not numbers:
        return
    taken = set(Customer.objects.filter(in_values("number", numbers)).order_by().values_list("number", flat=True))
    if taken:
        for number in taken:
            chunk.error(numbers[number], number_column,
                        _("Customer number %(number)s is already taken.") % {"number": number})
        chunk.keep([i for i, values in enumerate(chunk.values) if values[at] not in taken])


def _stored_matching(phones: set[str], emails: set[str], companies: set[str]) -> list[MatchRow]:
    """Return the stored customers that share a phone, an e-mail or a company key: one query per key column."""
    found: dict[int, MatchRow] = {}
    for column, values in (("phone_digits", phones), ("phone_alt_digits", phones), ("email_normalized", emails),
                           ("company_key", companies)):
        if not values:
            continue
        for fields in match_candidates().filter(in_values(column, sorted(values))).values_list(*MATCH_FIELDS):
            if fields[0] not in found:
                found[fields[0]] = match_row(*fields)
    return list(found.values())




def _checked_key(job: ImportJob, data: bytes, mapping: dict[int, str]) -> str:
    return checked_key(data, CHECKED_FORMAT, job.sheet, settings.FIDELIS_DEFAULT_REGION, sorted(mapping.items()))


def _pack(chunk: _Chunk) -> tuple:
    """Return the chunk as a record to store.

    The rows go column by column, a column with one value in every row as that value: most columns of a file
    are not mapped, and fewer objects make storing and loading several times faster.
    """
    birthday = _AT["birthday"]
    columns: list[Any] = []
    for index, column in enumerate(zip(*chunk.values, strict=True)):
        if index == birthday:
            column = tuple(day if day is None else day.isoformat() for day in column)
        columns.append((column[0],) if column.count(column[0]) == len(column) else column)
    return ("rows", len(chunk.values), columns, chunk.tags, chunk.rows, chunk.errors, sorted(chunk.bad_rows))


def _unpack(record: tuple) -> _Chunk:
    chunk = _Chunk()
    _kind, count, columns, chunk.tags, chunk.rows, chunk.errors, bad_rows = record
    chunk.bad_rows = set(bad_rows)
    if count:
        birthday = _AT["birthday"]
        columns[birthday] = tuple(day if day is None else date.fromisoformat(day) for day in columns[birthday])
        chunk.values = [list(row) for row in zip(*(column if len(column) == count else repeat(column[0], count)
                                                    for column in columns), strict=True)]
    return chunk


def _check(job: ImportJob, data: bytes, mapping: dict[int, str], key: str) -> None:
    """Check every row of the job's file, a chunk at a time, and store each chunk next to the upload."""

    def records(table: Table) -> Iterator[tuple]:
        numbers_in_file: dict[str, int] = {}
        rows, total = table.rows(), 0
        while chunk_rows := list(islice(rows, CHUNK_ROWS)):
            total += len(chunk_rows)
            yield _pack(_parse_rows(table.headers, chunk_rows, mapping, numbers_in_file))
        yield ("end", total, warnings_report(table), table.warning_count)

    with job_table(job, data) as table:
        checked_write(job, key, records(table))


def _checked_chunks(job: ImportJob, key: str, number_column: str, summary: _Summary | None = None
                    ) -> Iterator[_Chunk]:
    """Yield the chunks the check stored for the job under this key, without the rows whose customer number is
    taken by now; add each to the summary. Raises ValueError when they are missing or damaged."""
    records = checked_records(job, key)
    if records is None:
        raise CheckedDamaged(key)
    for record in records:
        if record[0] == "end":
            if summary is not None:
                summary.total, summary.warnings, summary.warning_count = record[1:]
            continue
        chunk = _unpack(record)
        _drop_taken_numbers(chunk, number_column)
        if summary is not None:
            summary.add(chunk)
        yield chunk


def _number_column(job: ImportJob, mapping: dict[int, str]) -> str:
    """Return the header of the column mapped to the customer number, or ""."""
    return next((job.headers[index] for index, field in mapping.items() if field == "number"), "")


def _summary(job: ImportJob, data: bytes, mapping: dict[int, str], *, check: bool,
             hints: _DuplicateHints | None = None) -> tuple[str, _Summary]:
    """Return the key of the job's checked rows and what they hold; check the file first when asked, or when the
    rows stored are missing, of another file or damaged. Checking adds each chunk's duplicates to `hints`."""
    key = _checked_key(job, data, mapping)
    column = _number_column(job, mapping)
    if not check:
        summary = _Summary()
        try:
            for _chunk in _checked_chunks(job, key, column, summary):
                pass
        except (ValueError, EOFError, TypeError):
            check = True
    if check:
        _check(job, data, mapping, key)
        summary = _Summary()
        for chunk in _checked_chunks(job, key, column, summary):
            if hints is not None:
                hints.add(chunk)
    return key, summary


def _report(job: ImportJob, summary: _Summary, hints: dict[str, Any]) -> None:
    job.total_rows = summary.total
    job.error_rows = summary.bad_rows
    job.report = {
        "errors": summary.errors.report(),
        "error_count": summary.errors.count,
        "good_rows": summary.good_rows,
        "warnings": summary.warnings,
        "warning_count": summary.warning_count,
        "checked_at": timezone.now().isoformat(),
        **hints,
    }


def _hints_of_check(job: ImportJob) -> dict[str, Any]:
    """Return the duplicate hints the job's check reported, which its run keeps in the report."""
    return {key: job.report[key] for key in ("duplicate_hints", "duplicate_hint_count") if key in job.report}


@transaction.atomic(durable=True)
def import_job_validate(*, actor, job: ImportJob, mapping: dict[str, str], mode: str) -> ImportJob:
    """Check every row against the mapping (a dry run): report bad rows, write no customer."""
    _require(actor)
    if job.status == ImportStatus.IMPORTED:
        raise DomainError(_("This file was already imported."), code=ImportCode.ALREADY_IMPORTED)
    if mode not in ImportMode.values:
        raise DomainError(_("Choose how to treat bad rows."), code=ImportCode.INVALID_MODE, field="mode")
    columns = _clean_mapping(job, mapping)
    hints = _DuplicateHints(actor)
    _key, summary = _summary(job, job_data(job), columns, check=True, hints=hints)
    job.mapping = {str(i): columns.get(i, IGNORE) for i in range(len(job.headers))}
    job.mode = mode
    job.status = ImportStatus.VALIDATED
    _report(job, summary, hints.hints.report())
    job.save()
    return job


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


@transaction.atomic(durable=True)
def import_job_run(*, actor, job: ImportJob, mode: str | None = None) -> ImportJob:
    """Import the checked file: all rows or none ("all"), or the good rows only ("skip"); flag duplicates.

    `mode` changes the job's mode first (after a failed "all or nothing" run: skip the bad rows). The rows go in a
    chunk at a time, in one transaction.
    """
    _require(actor)
    run_prepare(job, mode)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    run_prepare(job, mode)
    columns = _clean_mapping(job, job.mapping)
    key, summary = _summary(job, job_data(job), columns, check=False)
    _report(job, summary, _hints_of_check(job))
    if summary.errors.count and job.mode == ImportMode.ALL_OR_NOTHING:
        job.status = ImportStatus.FAILED
        job.created_count = job.duplicate_count = 0
        job.report["result"] = "nothing_imported"
        job.save()
        return job
    # The stored rows serve one import; a failed run keeps them for the next run.
    transaction.on_commit(partial(job.file.storage.delete, checked_name(job)), robust=True)
    event_actor = actor if getattr(actor, "is_authenticated", False) else None
    # Each customer's customer.created event: its public id and customer, then these (events.services.EVENT_COLUMNS).
    event = ("customer.created", timezone.now(), Channel.IMPORT, "", "", {"import": job.public_id, "file": job.file_name},
             None,
             event_actor.pk if event_actor else None)
    created: set[int] = set()
    flagged: set[int] = set()
    for chunk in _checked_chunks(job, key, _number_column(job, columns)):
        flagged.update(_chunk_import(chunk, event, created))
    job.status = ImportStatus.IMPORTED
    job.created_count = len(created)
    job.duplicate_count = len(flagged)
    job.report["result"] = "imported"
    job.save()
    audit_record(actor=actor, action="customer.import", obj=job, changes={
        "file": [None, job.file_name], "mode": [None, job.mode], "rows": [None, job.total_rows],
        "created": [None, job.created_count], "skipped": [None, job.error_rows],
        "duplicates": [None, job.duplicate_count]})
    return job


def _chunk_import(chunk: _Chunk, event: tuple, created: set[int]) -> set[int]:
    """Insert the chunk's customers, their tags and `event` for each, and add their keys to `created`; flag
    duplicates among them and with the stored customers (those of the earlier chunks included). Return the keys of
    the customers created by the import found in a pair."""
    values = chunk.values
    if not values:
        return set()
    at = _AT
    without_number = [row for row in values if not row[at["number"]]]
    if without_number:
        for row, number in zip(without_number, customer_number_next(count=len(without_number)), strict=True):
            row[at["number"]] = number
    # Stored records sharing a key are read before the insert, so the lookups never fetch the new rows.
    phones = {row[at["phone_digits"]] for row in values} | {row[at["phone_alt_digits"]] for row in values}
    emails = {row[at["email_normalized"]] for row in values}
    companies = {row[at["company_key"]] for row in values}
    stored = _stored_matching(phones - {""}, emails - {""}, companies - {""})
    pks = ids_reserve(Customer, len(values))
    customer_rows = [(public_id, pk, *row)
                     for public_id, pk, row in zip(new_public_ids(len(values)), pks, values, strict=True)]
    if connection.vendor == "postgresql":
        # In public id order (the keys still follow the file): the two indexes of the random public ids then take
        # their new entries in one sweep. Not on SQLite, where the table itself is ordered by key.
        customer_rows.sort()
    rows_insert(Customer, ("public_id", "id", *ROW_FIELDS), customer_rows)
    new_pks = set(pks)
    created.update(new_pks)
    tag_objects = _tags_ensure(t for tags in chunk.tags for t in tags)
    # In key order: each index then takes its new entries side by side rather than all over.
    links = sorted({(pk, tag_objects[name].pk) for pk, tags in zip(pks, chunk.tags, strict=True)
                    for _group, name in tags})
    rows_insert(CustomerTag, ("customer_id", "tag_id"), links)
    rows = [match_row(pk, row[at["phone_digits"]], row[at["phone_alt_digits"]], row[at["email_normalized"]],
                      row[at["company_key"]], row[at["name_pinyin"]], row[at["name"]])
            for pk, row in zip(pks, values, strict=True)]
    pairs = [(a, b, reason, score) for (a, b), (reason, score) in match_pairs([*rows, *stored], new_pks).items()]
    # Each pair has a customer created just now, so none is stored yet: no need for duplicate_candidates_store's
    # conflict handling and counts.
    rows_insert(DuplicateCandidate, ("customer_id", "other_id", "reason", "score"), pairs)
    # Recorded as history, in public id order too: the events of one import are alike, which of them gets which key
    # tells nothing.
    record_event_rows([(public_id, pk, *event) for public_id, pk in sorted(zip(new_public_ids(len(pks)), pks,
                                                                                strict=True))], historical=True)
    return {pk for a, b, _reason, _score in pairs for pk in (a, b) if pk in created}

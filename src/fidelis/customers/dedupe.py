"""Duplicate customers: find likely pairs by key (phone, e-mail, similar name at the same company), review, merge."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from difflib import SequenceMatcher
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import (
    Consent,
    Contact,
    Customer,
    CustomerTag,
    DuplicateCandidate,
    DuplicateStatus,
    LifecycleStage,
    MergeRecord,
)
from fidelis.customers.normalize import name_key
from fidelis.customers.services import EDITABLE_FIELDS, customer_prepare
from fidelis.events.models import Event
from fidelis.events.services import record_event

BATCH = 2000
LOOKUP_CHUNK = 500
# Two names at the same company are "very similar" from this ratio of their pinyin (zhangsan / zhangshan).
NAME_SIMILARITY = 0.9
# Neighbours compared after sorting a company's names: the sorted-neighbourhood method, O(k log k) per company.
NAME_WINDOW = 3

REASON_PHONE = "phone"
REASON_EMAIL = "email"
REASON_NAME_COMPANY = "name_company"
REASON_LABELS = {
    REASON_PHONE: gettext_lazy("Same phone number"),
    REASON_EMAIL: gettext_lazy("Same e-mail address"),
    REASON_NAME_COMPANY: gettext_lazy("Similar name at the same company"),
}
# The columns a MatchRow is built from, in match_row's order.
MATCH_FIELDS = ("pk", "phone_digits", "phone_alt_digits", "email_normalized", "company_key", "name_pinyin", "name")
# Fields filled on the kept record from the merged one when the kept record has them empty.
_FILLABLE = tuple(f for f in EDITABLE_FIELDS if f not in ("number", "kind", "category", "value_tier",
                                                           "lifecycle_stage"))


class MatchRow(NamedTuple):
    """The keys a customer is matched on when looking for duplicates."""

    # A tuple, not a frozen dataclass: an import builds one per row, and a tuple is built several times faster.
    pk: int
    phones: tuple[str, ...]
    email: str
    company: str
    name: str


def match_row(pk: int, phone: str, phone_alt: str, email: str, company: str, pinyin: str, name: str) -> MatchRow:
    """Return the match keys of a customer from its MATCH_FIELDS values."""
    if phone_alt and phone_alt != phone:
        phones = (phone, phone_alt) if phone else (phone_alt,)
    else:
        phones = (phone,) if phone else ()
    return MatchRow(pk, phones, email or "", company or "", pinyin or name_key(name))


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def match_candidates() -> QuerySet[Customer]:
    """Return the customers a duplicate may be found among: active, not erased, unordered."""
    # No ordering: the default one makes SQLite walk the created_at index instead of the key indexes.
    return Customer.objects.active().filter(erased_at__isnull=True).order_by()


def _similar(matcher: SequenceMatcher, a: str, b: str, threshold: float) -> float:
    """Return the similarity ratio of two non-empty keys, or 0 early when its cheap upper bounds fall below
    threshold. The matcher is SequenceMatcher(None, ?, b): it keeps what it learnt of b between calls."""
    if a == b:
        return 1.0
    if 2 * min(len(a), len(b)) / (len(a) + len(b)) < threshold:
        return 0.0
    matcher.set_seq2(b)  # nothing to do when b is the one it holds
    matcher.set_seq1(a)
    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
        return 0.0
    return matcher.ratio()


def match_pairs(rows: Iterable[MatchRow], subject: set[int] | None) -> dict[tuple[int, int], tuple[str, float]]:
    """Return {(low pk, high pk): (reason, score)} for rows sharing a key; with `subject`, pairs touching it."""
    rows = {r.pk: r for r in rows}
    found: dict[tuple[int, int], tuple[str, float]] = {}

    def add(a: int, b: int, reason: str, score: float) -> None:
        if a == b or (subject is not None and a not in subject and b not in subject):
            return
        found.setdefault((min(a, b), max(a, b)), (reason, round(score, 3)))

    by_phone: dict[str, list[int]] = defaultdict(list)
    by_email: dict[str, list[int]] = defaultdict(list)
    by_company: dict[str, list[MatchRow]] = defaultdict(list)
    for row in rows.values():
        for phone in row.phones:
            by_phone[phone].append(row.pk)
        if row.email:
            by_email[row.email].append(row.pk)
        if row.company and row.name:
            by_company[row.company].append(row)
    for reason, groups in ((REASON_PHONE, by_phone), (REASON_EMAIL, by_email)):
        for members in groups.values():
            if len(members) > 1:
                # A star around the oldest record: enough to review and merge the whole group.
                anchor = min(members)
                for pk in members:
                    add(anchor, pk, reason, 1.0)
    matcher = SequenceMatcher(None, "", "")
    for members in by_company.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda r: (r.name, r.pk))
        # Each name against the NAME_WINDOW names before it (the same pairs as each against the ones after it),
        # so that the matcher analyses each name once as its second sequence rather than once per pair.
        for j in range(1, len(members)):
            other = members[j]
            # With a subject (an import: its rows among the stored ones of their companies), only pairs that
            # touch it are kept, so pairs of two stored records are not compared at all.
            other_in = subject is None or other.pk in subject
            for row in members[max(0, j - NAME_WINDOW):j]:
                if not other_in and row.pk not in subject:
                    continue
                score = _similar(matcher, row.name, other.name, NAME_SIMILARITY)
                if score >= NAME_SIMILARITY:
                    add(row.pk, other.pk, REASON_NAME_COMPANY, score)
        # Runs of the same name longer than the window: pair each with the run's oldest record.
        same: dict[str, list[int]] = defaultdict(list)
        for row in members:
            same[row.name].append(row.pk)
        for pks in same.values():
            if len(pks) > NAME_WINDOW + 1:
                anchor = min(pks)
                for pk in pks:
                    add(anchor, pk, REASON_NAME_COMPANY, 1.0)
    return found


def _rows_matching(phones: set[str], emails: set[str], companies: set[str], exclude: set[int]) -> list[MatchRow]:
    """Return the stored customers that share a phone, an e-mail or a company key (chunked indexed lookups)."""
    base = match_candidates()
    result: dict[int, MatchRow] = {}
    lookups = (("phone_digits", phones), ("phone_alt_digits", phones), ("email_normalized", emails),
               ("company_key", companies))
    for column, values in lookups:
        for chunk in _chunks(sorted(values)):
            for values_row in base.filter(**{f"{column}__in": chunk}).values_list(*MATCH_FIELDS):
                if values_row[0] not in exclude and values_row[0] not in result:
                    result[values_row[0]] = match_row(*values_row)
    return list(result.values())


def duplicate_pairs_for(customers: list[Customer]) -> list[tuple[int, int, str, float]]:
    """Return (pk, pk, reason, score) for saved customers that match each other or a stored customer."""
    rows = [match_row(c.pk, c.phone_digits, c.phone_alt_digits, c.email_normalized, c.company_key, c.name_pinyin,
                 c.name) for c in customers]
    subject = {r.pk for r in rows}
    stored = _rows_matching({p for r in rows for p in r.phones}, {r.email for r in rows if r.email},
                            {r.company for r in rows if r.company}, subject)
    pairs = match_pairs([*rows, *stored], subject)
    return [(a, b, reason, score) for (a, b), (reason, score) in pairs.items()]


def customer_duplicate_of(customer: Customer) -> tuple[str, Customer] | None:
    """Return (field, stored customer) for the first of the customer's phone, other phone and e-mail that an
    active, not erased customer already has (the oldest such customer, owner loaded), or None."""
    keys = (("phone", customer.phone_digits), ("phone_alt", customer.phone_alt_digits),
            ("email", customer.email_normalized))
    phones = {key for field, key in keys if key and field != "email"}
    emails = {customer.email_normalized} if customer.email_normalized else set()
    if not phones and not emails:
        return None
    rows = _rows_matching(phones, emails, set(), {customer.pk} if customer.pk else set())
    for field, key in keys:
        matches = [r.pk for r in rows if key and (r.email == key if field == "email" else key in r.phones)]
        if matches:
            return field, Customer.objects.select_related("owner").get(pk=min(matches))
    return None


def _rows_sharing_keys() -> list[MatchRow]:
    """Return every active customer that shares a key with another one (the database groups, we don't)."""
    base = match_candidates()
    pks: set[int] = set()
    for column in ("phone_digits", "email_normalized", "company_key"):
        keys = list(base.exclude(**{column: ""}).values(column).annotate(n=Count("id")).filter(n__gt=1)
                    .values_list(column, flat=True))
        for chunk in _chunks(keys):
            pks.update(base.filter(**{f"{column}__in": chunk}).values_list("pk", flat=True))
    # A phone stored as one customer's main number and another's other number.
    alt = set(base.exclude(phone_alt_digits="").values_list("phone_alt_digits", flat=True))
    for chunk in _chunks(sorted(alt)):
        pks.update(base.filter(Q(phone_digits__in=chunk) | Q(phone_alt_digits__in=chunk)).values_list("pk", flat=True))
    rows: list[MatchRow] = []
    for chunk in _chunks(sorted(pks)):
        rows.extend(match_row(*v) for v in base.filter(pk__in=chunk).values_list(*MATCH_FIELDS))
    return rows


def duplicate_candidates_store(pairs: Iterable[tuple[int, int, str, float]]) -> int:
    """Store pairs as open candidates (a pair seen before keeps its status); return how many are new."""
    objects = [DuplicateCandidate(customer_id=a, other_id=b, reason=reason, score=score)
               for a, b, reason, score in pairs]
    if not objects:
        return 0
    before = DuplicateCandidate.objects.count()
    DuplicateCandidate.objects.bulk_create(objects, batch_size=BATCH, ignore_conflicts=True)
    return DuplicateCandidate.objects.count() - before


def _require_merge(actor) -> None:
    if not has_capability(actor, "customer.merge"):
        raise PermissionDenied(_("You may not review or merge duplicates."), code=CustomerCode.FORBIDDEN)


@transaction.atomic(durable=True)
def duplicates_scan(*, actor=None, customers: Iterable[Customer] | None = None) -> int:
    """Find possible duplicates among the stored customers (or of the given ones); return how many pairs are new."""
    if actor is not None:
        _require_merge(actor)
    if customers is None:
        pairs = [(a, b, reason, score) for (a, b), (reason, score) in match_pairs(_rows_sharing_keys(), None).items()]
    else:
        pairs = duplicate_pairs_for([c for c in customers if c.pk is not None])
    created = duplicate_candidates_store(pairs)
    if actor is not None:
        audit_record(actor=actor, action="customer.duplicates_scan", object_type="customers.duplicatecandidate",
                     object_repr=_("Duplicate scan"), changes={"pairs": [None, len(pairs)], "new": [None, created]})
    return created


@transaction.atomic(durable=True)
def duplicate_dismiss(*, actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Mark a pair as not a duplicate; a later scan does not bring it back."""
    _require_merge(actor)
    candidate = DuplicateCandidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status != DuplicateStatus.OPEN:
        raise DomainError(_("This pair was already reviewed."), code=CustomerCode.ALREADY_REVIEWED)
    candidate.status = DuplicateStatus.DISMISSED
    candidate.resolved_by = actor
    candidate.save(update_fields=["status", "resolved_by", "updated_at"])
    audit_record(actor=actor, action="customer.duplicate_dismiss", obj=candidate,
                 changes={"status": [DuplicateStatus.OPEN, DuplicateStatus.DISMISSED]})
    return candidate


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """Return every stored value of a customer as JSON-ready data."""
    return {f.attname: _plain(getattr(customer, f.attname)) for f in Customer._meta.concrete_fields}


def _merge_consents(keep: Customer, absorb: Customer) -> list[str]:
    moved: list[str] = []
    kept = {c.channel: c for c in Consent.objects.select_for_update().filter(customer=keep)}
    for consent in Consent.objects.select_for_update().filter(customer=absorb):
        current = kept.get(consent.channel)
        if current is not None and current.recorded_at >= consent.recorded_at:
            consent.delete()
            continue
        if current is not None:
            current.delete()
        consent.customer = keep
        consent.save(update_fields=["customer"])
        moved.append(consent.channel)
    return moved


_merge_hooks: list[Callable[..., dict[str, Any]]] = []


def on_merge(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Register what another app moves when two customers are merged: func(actor=, keep=, absorb=) runs inside
    the merge's transaction and returns what it moved (kept in the MergeRecord)."""
    if func not in _merge_hooks:
        _merge_hooks.append(func)
    return func


@transaction.atomic(durable=True)
def customers_merge(*, actor, keep: Customer, absorb: Customer) -> MergeRecord:
    """Merge `absorb` into `keep`: move its history, tags, contacts and newer consents, fill empty fields."""
    _require_merge(actor)
    if keep.pk == absorb.pk:
        raise DomainError(_("A customer cannot be merged with itself."), code=CustomerCode.SAME_CUSTOMER)
    # Lock both rows in pk order, so that two merges of the same pair cannot interleave or deadlock.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[keep.pk, absorb.pk])
              .order_by("pk")}
    if len(locked) != 2:
        raise DomainError(_("One of the customers no longer exists."), code=CustomerCode.NOT_FOUND)
    keep, absorb = locked[keep.pk], locked[absorb.pk]
    if keep.merged_into_id or absorb.merged_into_id:
        raise DomainError(_("One of the customers was already merged into another."), code=CustomerCode.ALREADY_MERGED)
    if keep.erased_at or absorb.erased_at:
        raise DomainError(_("A customer whose personal data was erased cannot be merged."), code=CustomerCode.ERASED)

    snapshot = customer_snapshot(absorb)
    snapshot["tags"] = sorted(absorb.tags.values_list("name", flat=True))
    snapshot["consents"] = [
        {"channel": c.channel, "granted": c.granted, "source": c.source, "recorded_at": c.recorded_at.isoformat()}
        for c in absorb.consents.all()]
    snapshot["contacts"] = list(absorb.contacts.values("id", "name", "title", "phone", "email", "is_primary"))

    events = Event.objects.filter(customer=absorb).update(customer=keep)
    kept_tags = set(CustomerTag.objects.filter(customer=keep).values_list("tag_id", flat=True))
    absorbed_tags = CustomerTag.objects.filter(customer=absorb)
    moved_tags = sorted(absorbed_tags.exclude(tag_id__in=kept_tags).values_list("tag__name", flat=True))
    absorbed_tags.exclude(tag_id__in=kept_tags).update(customer=keep)
    absorbed_tags.delete()
    contacts = Contact.objects.filter(customer=absorb).update(customer=keep)
    consents = _merge_consents(keep, absorb)

    filled: list[str] = []
    for field in _FILLABLE:
        if getattr(keep, field) in ("", None) and getattr(absorb, field) not in ("", None):
            setattr(keep, field, getattr(absorb, field))
            filled.append(field)
    if keep.owner_id is None and absorb.owner_id is not None:
        keep.owner_id = absorb.owner_id
        filled.append("owner")
    stages = list(LifecycleStage.values)
    if stages.index(absorb.lifecycle_stage) > stages.index(keep.lifecycle_stage):
        # The loyalty funnel only moves forward: the merged person is as far along as either record was.
        keep.lifecycle_stage = absorb.lifecycle_stage
        filled.append("lifecycle_stage")
    customer_prepare(keep)
    keep.save()
    absorb.merged_into = keep
    absorb.save(update_fields=["merged_into", "updated_at"])

    now = timezone.now()
    pair = Q(customer=keep, other=absorb) | Q(customer=absorb, other=keep)
    DuplicateCandidate.objects.filter(pair).update(status=DuplicateStatus.MERGED, resolved_by=actor, updated_at=now)
    # Other open pairs of the absorbed record now concern the kept one.
    others = DuplicateCandidate.objects.filter(Q(customer=absorb) | Q(other=absorb), status=DuplicateStatus.OPEN)
    carried = [(min(keep.pk, o), max(keep.pk, o), reason, score) for o, reason, score in
               ((c.other_id if c.customer_id == absorb.pk else c.customer_id, c.reason, c.score) for c in others)
               if o != keep.pk]
    others.delete()
    duplicate_candidates_store(carried)

    moved = {"events": events, "tags": moved_tags, "contacts": contacts, "consents": consents, "fields": filled}
    for hook in _merge_hooks:
        moved.update(hook(actor=actor, keep=keep, absorb=absorb))
    record = MergeRecord.objects.create(kept=keep, absorbed=absorb, snapshot=snapshot, moved=moved,
                                        actor=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="customer.merge", obj=keep, changes={
        "absorbed": [absorb.number, None], "merge": [None, record.pk], "events": [None, events],
        "tags": [None, moved_tags], "contacts": [None, contacts], "consents": [None, consents],
        "fields": [None, filled]})
    record_event(customer=keep, type="customer.merged", actor=actor, channel="web",
                 payload={"absorbed": absorb.number, "merge": record.pk, "events": events})
    return record

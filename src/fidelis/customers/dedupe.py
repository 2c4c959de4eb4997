"""Possible duplicates (same phone, same e-mail, or a name that sounds the same at the same company) and merges."""

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.errors import DomainError, PermissionDenied
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

Key = tuple[str, str]
LOOKUP_CHUNK = 500
BATCH = 2000
# Fields a merge never copies: the kept record keeps its own number and type.
MERGE_SKIP = {"number", "kind"}


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _company_person_key(company: str, pinyin: str, name: str) -> str:
    # Names that sound the same (same pinyin) count as very similar: 张三 / 章三, "Zhang San" / "zhangsan".
    return f"{company}|{pinyin or name_key(name)}"


def match_keys(customer: Customer) -> list[Key]:
    """Return the keys under which two records are taken for the same customer."""
    keys: list[Key] = []
    if customer.phone_digits:
        keys.append(("phone", customer.phone_digits))
    if customer.email_normalized:
        keys.append(("email", customer.email_normalized))
    if customer.company_key and customer.name:
        keys.append(("name_company", _company_person_key(customer.company_key, customer.name_pinyin, customer.name)))
    return keys


def existing_matches(keys: Iterable[Key]) -> dict[Key, int]:
    """Return, for each key, the oldest active customer having it (chunked IN queries on the key indexes)."""
    by_reason: dict[str, set[str]] = {"phone": set(), "email": set(), "name_company": set()}
    for reason, value in keys:
        by_reason[reason].add(value.split("|", 1)[0] if reason == "name_company" else value)
    found: dict[Key, int] = {}
    active = Customer.objects.active().filter(erased_at__isnull=True).order_by()
    for reason, column in (("phone", "phone_digits"), ("email", "email_normalized")):
        for chunk in _chunks(sorted(by_reason[reason])):
            for pk, value in active.filter(**{f"{column}__in": chunk}).values_list("pk", column):
                key = (reason, value)
                if key not in found or pk < found[key]:
                    found[key] = pk
    wanted = set(keys)
    for chunk in _chunks(sorted(by_reason["name_company"])):
        rows = active.filter(company_key__in=chunk).values_list("pk", "company_key", "name_pinyin", "name")
        for pk, company, pinyin, name in rows:
            key = ("name_company", _company_person_key(company, pinyin, name))
            if key in wanted and (key not in found or pk < found[key]):
                found[key] = pk
    return found


def duplicates_scan(*, actor=None) -> int:
    """Find possible duplicates among all active customers by grouping on their keys; return how many are new."""
    first_of: dict[Key, int] = {}
    pairs: dict[tuple[int, int], str] = {}
    rows = (Customer.objects.active().filter(erased_at__isnull=True).order_by("pk")
            .values_list("pk", "phone_digits", "email_normalized", "company_key", "name_pinyin", "name"))
    for pk, phone, email, company, pinyin, name in rows.iterator(chunk_size=5000):
        keys: list[Key] = []
        if phone:
            keys.append(("phone", phone))
        if email:
            keys.append(("email", email))
        if company and name:
            keys.append(("name_company", _company_person_key(company, pinyin, name)))
        for key in keys:
            first = first_of.setdefault(key, pk)
            if first != pk:
                # Rows come in pk order, so the group's first row has the smaller pk.
                pairs.setdefault((first, pk), key[0])
    with transaction.atomic():
        before = DuplicateCandidate.objects.count()
        objects = [DuplicateCandidate(customer_id=a, other_id=b, reason=reason) for (a, b), reason in pairs.items()]
        # Known pairs (also dismissed ones) stay as they are.
        DuplicateCandidate.objects.bulk_create(objects, batch_size=BATCH, ignore_conflicts=True)
        created = DuplicateCandidate.objects.count() - before
        if actor is not None:
            audit_record(actor=actor, action="customer.duplicates_scan", object_type="customers.duplicatecandidate",
                         changes={"found": [None, created]})
    return created


def duplicate_candidates_open() -> QuerySet[DuplicateCandidate]:
    """Return the open pairs of possible duplicates, both records loaded, hiding pairs already merged away."""
    return (DuplicateCandidate.objects.filter(status=DuplicateStatus.OPEN, customer__merged_into__isnull=True,
                                              other__merged_into__isnull=True)
            .select_related("customer", "other", "customer__owner", "other__owner").order_by("-created_at", "-id"))


def _require(actor) -> None:
    if not has_capability(actor, "customer.merge"):
        raise PermissionDenied(_("You may not merge customers."), code="forbidden")


@transaction.atomic
def duplicate_dismiss(*, actor, candidate: DuplicateCandidate) -> DuplicateCandidate:
    """Mark a pair as not being the same customer."""
    _require(actor)
    if candidate.status != DuplicateStatus.OPEN:
        raise DomainError(_("This pair was already reviewed."), code="already_reviewed")
    candidate.status = DuplicateStatus.DISMISSED
    candidate.resolved_by = actor
    candidate.save(update_fields=["status", "resolved_by", "updated_at"])
    audit_record(actor=actor, action="customer.duplicate_dismiss", obj=candidate,
                 changes={"pair": [None, [candidate.customer_id, candidate.other_id]]})
    return candidate


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """Return every stored field of a customer, with its tags, consents and contacts, as JSON-ready data."""
    data = {f.attname: _jsonable(getattr(customer, f.attname)) for f in Customer._meta.concrete_fields}
    data["tags"] = sorted(str(t) for t in customer.tags.all())
    data["consents"] = [{"channel": c.channel, "granted": c.granted, "source": c.source,
                         "recorded_at": _jsonable(c.recorded_at)} for c in customer.consents.all()]
    data["contacts"] = [{"id": c.pk, "name": c.name, "title": c.title, "phone": c.phone, "email": c.email}
                        for c in customer.contacts.all()]
    return data


@transaction.atomic
def customers_merge(*, actor, keep: Customer, absorb: Customer) -> MergeRecord:
    """Merge `absorb` into `keep`: move its history, tags, contacts and consents, fill keep's empty fields."""
    _require(actor)
    if keep.pk == absorb.pk:
        raise DomainError(_("A record cannot be merged into itself."), code="same_record")
    # Lock both rows in pk order, so that two merges of the same records wait for each other.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[keep.pk, absorb.pk]).order_by("pk")}
    keep, absorb = locked[keep.pk], locked[absorb.pk]
    if keep.merged_into_id or absorb.merged_into_id:
        raise DomainError(_("One of these records was already merged."), code="already_merged")
    if keep.erased_at or absorb.erased_at:
        raise DomainError(_("This customer's personal data was erased."), code="erased")
    snapshot = customer_snapshot(absorb)
    moved: dict[str, Any] = {}

    moved["events"] = Event.objects.filter(customer=absorb).update(customer=keep)

    keep_tags = set(CustomerTag.objects.filter(customer=keep).values_list("tag_id", flat=True))
    absorb_links = CustomerTag.objects.filter(customer=absorb).select_related("tag")
    moved["tags"] = sorted(str(link.tag) for link in absorb_links if link.tag_id not in keep_tags)
    CustomerTag.objects.filter(customer=absorb).exclude(tag_id__in=keep_tags).update(customer=keep)
    CustomerTag.objects.filter(customer=absorb).delete()

    moved["contacts"] = Contact.objects.filter(customer=absorb).update(customer=keep)

    keep_consents = {c.channel: c for c in Consent.objects.filter(customer=keep)}
    moved["consents"] = []
    for consent in Consent.objects.filter(customer=absorb):
        current = keep_consents.get(consent.channel)
        if current is None:
            consent.customer = keep
            consent.save(update_fields=["customer"])
            moved["consents"].append(consent.channel)
        else:
            if consent.recorded_at > current.recorded_at:
                # The most recent statement of the customer wins.
                current.granted, current.source = consent.granted, consent.source
                current.recorded_at, current.recorded_by_id = consent.recorded_at, consent.recorded_by_id
                current.save(update_fields=["granted", "source", "recorded_at", "recorded_by"])
                moved["consents"].append(consent.channel)
            consent.delete()

    filled = []
    for field in EDITABLE_FIELDS:
        if field in MERGE_SKIP:
            continue
        if getattr(keep, field) in ("", None) and getattr(absorb, field) not in ("", None):
            setattr(keep, field, getattr(absorb, field))
            filled.append(field)
    stages = list(LifecycleStage.values)
    if stages.index(absorb.lifecycle_stage) > stages.index(keep.lifecycle_stage):
        keep.lifecycle_stage = absorb.lifecycle_stage
        filled.append("lifecycle_stage")
    if keep.owner_id is None and absorb.owner_id is not None:
        keep.owner_id = absorb.owner_id
        filled.append("owner")
    moved["fields"] = filled
    if filled:
        customer_prepare(keep)
        keep.save()

    absorb.merged_into = keep
    absorb.save(update_fields=["merged_into", "updated_at"])

    pair = Q(customer=keep, other=absorb) | Q(customer=absorb, other=keep)
    DuplicateCandidate.objects.filter(pair).update(status=DuplicateStatus.MERGED, resolved_by=actor,
                                                   updated_at=timezone.now())
    # Pairs of the absorbed record with a third one now concern the kept record.
    others = DuplicateCandidate.objects.filter((Q(customer=absorb) | Q(other=absorb)) & ~pair,
                                               status=DuplicateStatus.OPEN)
    repointed = []
    for candidate in others:
        third = candidate.other_id if candidate.customer_id == absorb.pk else candidate.customer_id
        if third != keep.pk:
            repointed.append(DuplicateCandidate(customer_id=min(third, keep.pk), other_id=max(third, keep.pk),
                                                reason=candidate.reason, score=candidate.score))
    others.update(status=DuplicateStatus.MERGED, resolved_by=actor, updated_at=timezone.now())
    DuplicateCandidate.objects.bulk_create(repointed, ignore_conflicts=True)

    record = MergeRecord.objects.create(kept=keep, absorbed=absorb, snapshot=snapshot, moved=moved,
                                        actor=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="customer.merge", obj=keep,
                 changes={"absorbed": [None, absorb.number], "moved": [None, moved]})
    record_event(customer=keep, type="customer.merged", actor=actor,
                 summary=_("Merged with %(customer)s") % {"customer": str(absorb)},
                 payload={"absorbed": absorb.public_id, "number": absorb.number, "merge": record.pk})
    return record

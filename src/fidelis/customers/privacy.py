"""Rights of the person (PIPL / GDPR): a copy of everything stored about them, and erasure of their personal data.

The copy is made of sections. This app gives the archive's own (profile, tags, consents, contacts, events, merged
records); every other app that stores rows about a customer declares its part in `<app>/personal_data.py` with
`@personal_data_section`, imported when the app is ready, so that the customer archive needs none of their models.
A test walks the models: each one with a foreign key to the customer is held by a section or named in
`NOT_PERSONAL_DATA`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.models import AuditEntry
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
    MergeRecord,
)
from fidelis.customers.services import EDITABLE_FIELDS, customer_prepare
from fidelis.events.models import Event
from fidelis.events.services import record_event

EXPORT_FORMAT = "fidelis.personal-data/1"
# What identifies or describes the person; blanked on erasure.
PERSONAL_FIELDS = (
    "gender", "birthday", "phone", "phone_alt", "email", "wechat_id", "province", "city", "district", "address",
    "company_name", "occupation", "interests", "special_requests", "notes",
)
# Event payload keys that are business figures, not personal data: kept on erasure so sales totals still add up.
KEPT_PAYLOAD_KEYS = ("amount", "total", "currency", "items_count")
# Keys of audit changes that hold personal values (the old and new values are blanked, the key stays).
_AUDIT_PERSONAL_KEYS = frozenset({"name", *PERSONAL_FIELDS, "tags", "contact", "source"})
ERASED_VALUE = "[erased]"
BATCH = 1000


def _require(actor) -> None:
    if not has_capability(actor, "customer.privacy"):
        raise PermissionDenied(_("You may not export or erase personal data."), code=CustomerCode.FORBIDDEN)


def plain(value: Any) -> Any:
    """Return a stored value as JSON can hold it: dates and times in ISO 8601, decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def plain_rows(qs: QuerySet, *fields: str) -> list[dict[str, Any]]:
    """Return the rows of a queryset as dicts of plain values (`values(*fields)` made JSON-able)."""
    return [{key: plain(value) for key, value in row.items()} for row in qs.values(*fields)]


SectionCollect = Callable[[Customer], Any]


@dataclass(frozen=True)
class PersonalDataSection:
    key: str
    models: frozenset[str]
    collect: SectionCollect


_sections: dict[str, PersonalDataSection] = {}
# Models with a foreign key to the customer that hold nothing about the person to hand over, and why.
NOT_PERSONAL_DATA = {
    "customers.duplicatecandidate": "the archive's own work list of records that may be the same person",
}


def personal_data_section(key: str, *, models: Iterable[type[Model]]) -> Callable[[SectionCollect], SectionCollect]:
    """Register a part of the personal-data export: `collect(customer)` returns the JSON-able data (see `plain`)
    stored about the person, under `key`; `models` are the models whose rows about them it holds."""
    def register(collect: SectionCollect) -> SectionCollect:
        _sections[key] = PersonalDataSection(key, frozenset(m._meta.label_lower for m in models), collect)
        return collect
    return register


def personal_data_sections() -> list[PersonalDataSection]:
    """Return the registered sections, in the order of the export."""
    return list(_sections.values())


@personal_data_section("customer", models=[Customer])
def _profile(customer: Customer) -> dict[str, Any]:
    data = {"public_id": customer.public_id}
    for field in EDITABLE_FIELDS:
        data[field] = plain(getattr(customer, field))
    data["owner"] = customer.owner.get_username() if customer.owner_id else None
    for field in ("created_at", "updated_at", "archived_at", "erased_at"):
        data[field] = plain(getattr(customer, field))
    return data


@personal_data_section("tags", models=[CustomerTag])
def _tags(customer: Customer) -> list[str]:
    return [str(t) for t in customer.tags.all()]


@personal_data_section("consents", models=[Consent])
def _consents(customer: Customer) -> list[dict[str, Any]]:
    return [{"channel": c.channel, "granted": c.granted, "source": c.source, "recorded_at": plain(c.recorded_at)}
            for c in Consent.objects.filter(customer=customer)]


@personal_data_section("contacts", models=[Contact])
def _contacts(customer: Customer) -> list[dict[str, Any]]:
    return plain_rows(Contact.objects.filter(customer=customer), "name", "title", "phone", "email", "is_primary",
                      "created_at")


@personal_data_section("events", models=[Event])
def _events(customer: Customer) -> list[dict[str, Any]]:
    events = Event.objects.filter(customer=customer).order_by("occurred_at", "id")
    return [
        {"type": e.type, "occurred_at": plain(e.occurred_at), "channel": e.channel, "touchpoint": e.touchpoint,
         "summary": e.summary, "payload": e.payload}
        for e in events.iterator(chunk_size=BATCH)]


@personal_data_section("merged_records", models=[MergeRecord])
def _merged_records(customer: Customer) -> list[dict[str, Any]]:
    return [{"merged_at": plain(m.created_at), "record": m.snapshot}
            for m in MergeRecord.objects.filter(kept=customer).order_by("created_at")]


def _absorbed_ids(customer: Customer) -> list[int]:
    """Return the records merged into this customer, directly or through a chain of merges."""
    found: list[int] = []
    frontier = [customer.pk]
    while frontier:
        frontier = [pk for pk in Customer.objects.filter(merged_into__in=frontier).values_list("pk", flat=True)
                    if pk not in found]
        found.extend(frontier)
    return found


@transaction.atomic(durable=True)
def customer_personal_data_export(*, actor, customer: Customer) -> dict[str, Any]:
    """Return everything stored about one person: the archive's sections (profile, tags, consents, contacts,
    events, merged records) and those of the other apps (club, orders, opportunities, tasks…); audited."""
    _require(actor)
    data: dict[str, Any] = {"format": EXPORT_FORMAT, "exported_at": timezone.now().isoformat()}
    for section in personal_data_sections():
        data[section.key] = section.collect(customer)
    audit_record(actor=actor, action="customer.personal_export", obj=customer,
                 changes={"events": [None, len(data["events"])], "sections": [None, list(_sections)]})
    return data


def _blank(customer: Customer) -> None:
    for field in PERSONAL_FIELDS:
        model_field = Customer._meta.get_field(field)
        setattr(customer, field, None if model_field.null else "")
    customer.name = _("Erased customer")
    customer_prepare(customer)
    customer.company_key = ""
    customer.erased_at = timezone.now()


def _scrub_events(customer_ids: list[int]) -> int:
    changed = 0
    batch: list[Event] = []
    for event in Event.objects.filter(customer_id__in=customer_ids).only("id", "summary", "payload").iterator(
            chunk_size=BATCH):
        payload = {k: v for k, v in (event.payload or {}).items() if k in KEPT_PAYLOAD_KEYS}
        if payload != event.payload or event.summary:
            event.payload, event.summary = payload, ""
            batch.append(event)
        if len(batch) >= BATCH:
            changed += Event.objects.bulk_update(batch, ["payload", "summary"])
            batch = []
    if batch:
        changed += Event.objects.bulk_update(batch, ["payload", "summary"])
    return changed


def _scrubbed(value: Any) -> Any:
    if isinstance(value, list):
        return [None if v in (None, "") else ERASED_VALUE for v in value]
    return ERASED_VALUE


def _scrub_audit(customers: list[Customer]) -> None:
    """Blank the personal values the audit log kept about these customers; who did what, and when, stays."""
    by_public_id = {c.public_id: c for c in customers}
    entries = AuditEntry.objects.filter(object_type=Customer._meta.label_lower, object_id__in=list(by_public_id))
    batch = []
    for entry in entries.iterator(chunk_size=BATCH):
        entry.object_repr = str(by_public_id[entry.object_id])[:200]
        entry.changes = {key: _scrubbed(value) if key in _AUDIT_PERSONAL_KEYS else value
                         for key, value in (entry.changes or {}).items()}
        batch.append(entry)
    AuditEntry.objects.bulk_update(batch, ["object_repr", "changes"], batch_size=BATCH)


@transaction.atomic(durable=True)
def customer_erase(*, actor, customer: Customer, reason: str) -> Customer:
    """Erase a person's personal data: blank the profile, drop tags, consents and contacts, scrub the history."""
    return erase_within(actor=actor, customer=customer, reason=reason)


def erase_within(*, actor, customer: Customer, reason: str) -> Customer:
    """Erase a person's personal data as `customer_erase` does, inside the caller's transaction (a bulk erase that
    is all or nothing)."""
    _require(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the personal data is erased."), code=CustomerCode.REQUIRED, field="reason")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.erased_at:
        raise DomainError(_("This customer's personal data was already erased."), code=CustomerCode.ERASED)
    if customer.merged_into_id:
        raise DomainError(_("This record was merged; erase the record it was merged into."), code=CustomerCode.MERGED)
    # Records merged into this one describe the same person.
    absorbed = list(Customer.objects.select_for_update().filter(pk__in=_absorbed_ids(customer)).order_by("pk"))
    people = [customer, *absorbed]
    ids = [c.pk for c in people]
    for person in people:
        _blank(person)
        person.save()
    tags = CustomerTag.objects.filter(customer_id__in=ids).delete()[0]
    consents = Consent.objects.filter(customer_id__in=ids).delete()[0]
    contacts = Contact.objects.filter(customer_id__in=ids).delete()[0]
    DuplicateCandidate.objects.filter(customer_id__in=ids).delete()
    DuplicateCandidate.objects.filter(other_id__in=ids).delete()
    for record in MergeRecord.objects.filter(kept_id__in=ids):
        record.snapshot = {"number": record.snapshot.get("number", ""), "erased": True}
        record.save(update_fields=["snapshot"])
    events = _scrub_events(ids)
    _scrub_audit(people)
    audit_record(actor=actor, action="customer.erase", obj=customer, changes={
        "reason": [None, reason[:500]], "tags": [tags, 0], "consents": [consents, 0], "contacts": [contacts, 0],
        "events_scrubbed": [None, events], "merged_records": [None, [c.number for c in absorbed]]})
    record_event(customer=customer, type="customer.erased", actor=actor, channel="web")
    return customer

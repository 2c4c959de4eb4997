"""Writes on the customer archive: create, change, tag, consent. Each is one transaction with audit and event."""

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.permissions import may_change_customer
from fidelis.accounts.services import audit_record
from fidelis.core.errors import Conflict, DomainError, PermissionDenied, full_clean_or_raise
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import (
    Consent,
    ConsentChannel,
    Contact,
    Customer,
    CustomerNumberSequence,
    CustomerTag,
    Tag,
)
from fidelis.customers.normalize import (
    InvalidPhone,
    company_key,
    name_pinyin,
    normalize_email,
    normalize_phone,
    phone_search_digits,
)
from fidelis.customers.selectors import customer_visible_qs
from fidelis.events.services import record_event

# Fields a user may set on a customer through a form, the API or an import.
EDITABLE_FIELDS = (
    "number", "kind", "name", "gender", "birthday", "phone", "phone_alt", "email", "wechat_id",
    "province", "city", "district", "address", "company_name", "industry", "company_size", "occupation",
    "interests", "special_requests", "notes", "category", "value_tier", "lifecycle_stage", "source",
)
NUMBER_PREFIX = "C"


def customer_number_next(*, count: int = 1, prefix: str = NUMBER_PREFIX) -> list[str]:
    """Reserve `count` consecutive customer numbers."""
    with transaction.atomic():
        CustomerNumberSequence.objects.get_or_create(prefix=prefix)
        # Lock the counter row so that two writers never take the same number.
        seq = CustomerNumberSequence.objects.select_for_update().get(prefix=prefix)
        start = seq.last_value + 1
        CustomerNumberSequence.objects.filter(pk=seq.pk).update(last_value=F("last_value") + count)
    return [f"{prefix}{n:08d}" for n in range(start, start + count)]


def customer_prepare(customer: Customer) -> None:
    """Normalise contact data and fill the search keys; raise DomainError naming the field."""
    customer.name = (customer.name or "").strip()
    for field in ("phone", "phone_alt"):
        try:
            setattr(customer, field, normalize_phone(getattr(customer, field)))
        except InvalidPhone:
            raise DomainError(_("“%(value)s” is not a valid phone number.") % {"value": getattr(customer, field)},
                              code=CustomerCode.INVALID_PHONE, field=field)
    customer.email = normalize_email(customer.email)
    customer.number = (customer.number or "").strip().upper()
    customer.name_pinyin, customer.name_initials = name_pinyin(customer.name)
    customer.phone_digits = phone_search_digits(customer.phone)
    customer.phone_reversed = customer.phone_digits[::-1]
    customer.phone_alt_digits = phone_search_digits(customer.phone_alt)
    customer.email_normalized = customer.email
    customer.company_key = company_key(customer.company_name or (customer.name if customer.is_company else ""))


def _validate(customer: Customer, exclude: list[str] | None = None) -> None:
    # Uniqueness (number, public id) is the database's and the check below: no query per field here.
    full_clean_or_raise(customer, exclude=exclude, validate_unique=False, validate_constraints=False)
    if customer.number and Customer.objects.filter(number=customer.number).exclude(pk=customer.pk).exists():
        raise DomainError(_("Customer number %(number)s is already taken.") % {"number": customer.number},
                          code=CustomerCode.NUMBER_TAKEN, field="number")


def _snapshot(customer: Customer) -> dict[str, Any]:
    data = {}
    for field in (*EDITABLE_FIELDS, "owner_id"):
        value = getattr(customer, field)
        data[field] = value.isoformat() if isinstance(value, date) else value
    return data


def _duplicate_refusal(*, actor, field: str, existing: Customer) -> Conflict:
    """Return the refusal that names the stored customer with the same phone or e-mail, or, when the actor may not
    see it, only whom to ask (its owner)."""
    by_email = field == "email"
    owner = str(existing.owner) if existing.owner_id else ""
    params: dict[str, Any] = {"owner": owner} if owner else {}
    if actor is not None and customer_visible_qs(actor).filter(pk=existing.pk).exists():
        values = {"name": existing.name, "number": existing.number}
        message = (_("A customer with this e-mail address already exists: %(name)s (%(number)s).") if by_email
                   else _("A customer with this phone number already exists: %(name)s (%(number)s).")) % values
        params["existing"] = {"public_id": existing.public_id, "number": existing.number, "name": existing.name}
    elif owner:
        message = (_("A customer with this e-mail address already exists; ask %(owner)s, who looks after it.")
                   if by_email else
                   _("A customer with this phone number already exists; ask %(owner)s, who looks after it.")) % {
            "owner": owner}
    else:
        message = (_("A customer with this e-mail address already exists; ask a manager.") if by_email
                   else _("A customer with this phone number already exists; ask a manager."))
    return Conflict(message, code=CustomerCode.DUPLICATE_CUSTOMER, field=field, **params)


@transaction.atomic
def customer_create(*, actor, data: dict[str, Any], tags: list[str] | None = None,
                    owner=None, via: str = "web", channel: str = "web", allow_duplicate: bool = False) -> Customer:
    """Create a customer from validated field values; the number is given when none is supplied.

    A customer whose phone, other phone or e-mail an active customer already has is refused (Conflict
    "duplicate_customer" naming the field and the stored customer, or only its owner when the actor may not see
    it) unless `allow_duplicate`; then the pair is kept for review on the duplicates page.
    """
    # dedupe builds on this module (the editable fields, customer_prepare), so it is imported here.
    from fidelis.customers.dedupe import (
        customer_duplicate_of,
        duplicate_candidates_store,
        duplicate_pairs_for,
    )

    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": sorted(unknown)[0]}, code=CustomerCode.UNKNOWN_FIELD,
                          field=sorted(unknown)[0])
    customer = Customer(**data)
    customer.owner = owner
    customer_prepare(customer)
    if not customer.name:
        raise DomainError(_("A customer needs a name."), code=CustomerCode.REQUIRED, field="name")
    if not customer.number:
        customer.number = customer_number_next()[0]
    _validate(customer)
    duplicate = customer_duplicate_of(customer)
    if duplicate is not None and not allow_duplicate:
        field, existing = duplicate
        raise _duplicate_refusal(actor=actor, field=field, existing=existing)
    customer.save()
    for tag_name in tags or []:
        _tag_attach(customer, tag_name)
    changes = {k: [None, v] for k, v in _snapshot(customer).items() if v not in ("", None)}
    if duplicate is not None:
        # The user was shown the stored record and confirmed that this is another customer.
        changes["duplicate_of"] = [None, duplicate[1].number]
        duplicate_candidates_store(duplicate_pairs_for([customer]))
    audit_record(actor=actor, action="customer.create", obj=customer, via=via, changes=changes)
    record_event(customer=customer, type="customer.created", actor=actor, channel=channel)
    return customer


@transaction.atomic
def customer_update(*, actor, customer: Customer, data: dict[str, Any], via: str = "web") -> Customer:
    """Change some fields of a customer; record what changed."""
    if not may_change_customer(actor, customer):
        raise PermissionDenied(_("You may not change this customer."), code=CustomerCode.FORBIDDEN)
    if customer.erased_at:
        raise DomainError(_("This customer's personal data was erased."), code=CustomerCode.ERASED)
    unknown = set(data) - set(EDITABLE_FIELDS) - {"owner"}
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": sorted(unknown)[0]}, code=CustomerCode.UNKNOWN_FIELD,
                          field=sorted(unknown)[0])
    before = _snapshot(customer)
    for field, value in data.items():
        setattr(customer, field, value)
    customer_prepare(customer)
    if not customer.name:
        raise DomainError(_("A customer needs a name."), code=CustomerCode.REQUIRED, field="name")
    if not customer.number:
        raise DomainError(_("The customer number cannot be empty."), code=CustomerCode.REQUIRED, field="number")
    _validate(customer)
    after = _snapshot(customer)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        customer.save()
        audit_record(actor=actor, action="customer.update", obj=customer, changes=changes, via=via)
        # The field names; the timeline names them in the viewer's language (customers.event_lines).
        record_event(customer=customer, type="customer.updated", actor=actor, channel="web" if via == "web" else via,
                     payload={"fields": sorted(changes)})
    return customer


def _tag_attach(customer: Customer, tag_name: str) -> tuple[Tag, bool]:
    name = tag_name.strip()
    if not name or len(name) > 40:
        raise DomainError(_("A tag is 1 to 40 characters long."), code=CustomerCode.INVALID_TAG, field="tags")
    group = ""
    if ":" in name:
        group, name = (part.strip() for part in name.split(":", 1))
    tag, _created = Tag.objects.get_or_create(name=name, defaults={"group": group})
    _link, created = CustomerTag.objects.get_or_create(customer=customer, tag=tag)
    return tag, created


@transaction.atomic
def customer_tag_add(*, actor, customer: Customer, tag_name: str, via: str = "web") -> Tag:
    """Put a tag on a customer ("group:name" creates the tag in that group); actor None: a rule of the system."""
    if actor is not None and not may_change_customer(actor, customer):
        raise PermissionDenied(_("You may not change this customer."), code=CustomerCode.FORBIDDEN)
    tag, created = _tag_attach(customer, tag_name)
    if created:
        audit_record(actor=actor, action="customer.tag_add", obj=customer, changes={"tags": [None, tag.name]}, via=via)
        record_event(customer=customer, type="tag.added", actor=actor, payload={"tag": tag.name, "group": tag.group})
    return tag


@transaction.atomic
def customer_tag_remove(*, actor, customer: Customer, tag: Tag, via: str = "web") -> None:
    """Take a tag off a customer."""
    if not may_change_customer(actor, customer):
        raise PermissionDenied(_("You may not change this customer."), code=CustomerCode.FORBIDDEN)
    deleted, _rows = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    if deleted:
        audit_record(actor=actor, action="customer.tag_remove", obj=customer, changes={"tags": [tag.name, None]},
                     via=via)
        record_event(customer=customer, type="tag.removed", actor=actor, payload={"tag": tag.name, "group": tag.group})


@transaction.atomic
def consent_set(*, actor, customer: Customer, channel: str, granted: bool, source: str,
                via: str = "web") -> Consent:
    """Record that a customer gave or withdrew consent for a channel, with its source and time."""
    if not may_change_customer(actor, customer):
        raise PermissionDenied(_("You may not change this customer."), code=CustomerCode.FORBIDDEN)
    if channel not in ConsentChannel.values:
        raise DomainError(_("Unknown channel."), code=CustomerCode.INVALID_CHANNEL, field="channel")
    source = (source or "").strip()
    if not source:
        raise DomainError(_("Say where the consent was given or withdrawn."), code=CustomerCode.REQUIRED, field="source")
    now = timezone.now()
    consent = Consent.objects.filter(customer=customer, channel=channel).first()
    before = consent.granted if consent else None
    if consent is None:
        consent = Consent(customer=customer, channel=channel)
    consent.granted, consent.source, consent.recorded_at = granted, source[:80], now
    consent.recorded_by = actor if getattr(actor, "is_authenticated", False) else None
    consent.save()
    if before != granted:
        audit_record(actor=actor, action="customer.consent", obj=customer, via=via,
                     changes={f"consent.{channel}": [before, granted], "source": [None, consent.source]})
        record_event(customer=customer, type="consent.granted" if granted else "consent.withdrawn", actor=actor,
                     payload={"channel": channel, "source": consent.source})
    return consent


@transaction.atomic(durable=True)
def contact_create(*, actor, customer: Customer, name: str, title: str = "", phone: str = "", email: str = "",
                   is_primary: bool = False) -> Contact:
    """Add a contact person to a company customer."""
    if not may_change_customer(actor, customer):
        raise PermissionDenied(_("You may not change this customer."), code=CustomerCode.FORBIDDEN)
    if not customer.is_company:
        raise DomainError(_("Only companies have contacts."), code=CustomerCode.NOT_COMPANY, field="customer")
    try:
        phone = normalize_phone(phone)
    except InvalidPhone:
        raise DomainError(_("“%(value)s” is not a valid phone number.") % {"value": phone}, code=CustomerCode.INVALID_PHONE,
                          field="phone")
    contact = Contact(customer=customer, name=name.strip(), title=title, phone=phone, email=normalize_email(email),
                      is_primary=is_primary)
    full_clean_or_raise(contact)
    if is_primary:
        customer.contacts.update(is_primary=False)
    contact.save()
    audit_record(actor=actor, action="contact.create", obj=customer, changes={"contact": [None, contact.name]})
    return contact

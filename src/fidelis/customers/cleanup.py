"""Keeping the archive clean: the records that need attention and what marketing does with them in bulk.

A record needs attention when its phone or e-mail fails validation, when an e-mail to it bounced, when nothing
happened with the customer (no event) for some years, or when data the business requires is missing. Each reason
is a condition on the customer row, so that the counts are one aggregate query and the list one filtered query;
archived and erased records need no more attention.
"""

from datetime import datetime
from functools import lru_cache
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Concat, Length, Lower, Substr
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.accounts.audit_labels import action_label
from fidelis.accounts.models import AuditEntry, User
from fidelis.accounts.permissions import capability_check, has_capability
from fidelis.accounts.services import audit_entry, audit_record
from fidelis.core.errors import DomainError
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import Customer
from fidelis.customers.privacy import erase_within
from fidelis.customers.selectors import customer_visible_qs
from fidelis.customers.services import EDITABLE_FIELDS
from fidelis.events.models import Event

# The event an outside mail system records (POST /api/events) when a message to the customer's address bounced;
# its payload may name the address ({"email": …}): a bounce of an address the customer no longer has is left out.
EMAIL_BOUNCED = "email.bounced"
MAX_INACTIVE_YEARS = 50
# Customers one bulk action may change at once (a page of the list holds fewer).
MAX_BULK = 500


class CleanupReason(models.TextChoices):
    INVALID_PHONE = "invalid_phone", gettext_lazy("Phone not valid")
    INVALID_EMAIL = "invalid_email", gettext_lazy("E-mail malformed")
    BOUNCED = "bounced", gettext_lazy("E-mail bounced")
    INACTIVE = "inactive", gettext_lazy("No activity")
    INCOMPLETE = "incomplete", gettext_lazy("Required data missing")


# The audit actions of the bulk actions (the erasure audits itself as "customer.erase").
ACTION_ARCHIVE = "customer.archive"
ACTION_ASSIGN = "customer.assign"
ACTION_RESTORE = "customer.restore"
CLEANUP_ACTIONS = (ACTION_ARCHIVE, ACTION_ASSIGN, "customer.erase")

_PHONE_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
                "pager", "uan", "voicemail")
# A number of another country, in E.164: its country code is not 86 (checked by shape only).
_FOREIGN_PHONE = r"^\+(?:[1-79]|8[0-57-9])[0-9]{6,14}$"
# Django's EmailValidator as a regular expression both databases run (no look-behind, no quoted local parts;
# domain letters beyond ASCII as the validator's IDN step allows them).
_IDN = "\u00a1-\uffff"
EMAIL_PATTERN = (r"^[-!#$%&'*+/=?^_`{}|~0-9a-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*"
                 rf"@([a-z0-9{_IDN}]([-a-z0-9{_IDN}]{{0,61}}[a-z0-9{_IDN}])?\.)+"
                 rf"[a-z0-9{_IDN}][-a-z0-9{_IDN}]{{0,61}}[a-z0-9{_IDN}]$")


# Mobile prefixes under which every 11-digit number is valid (phonenumbers' CN mobile pattern
# 1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}; tests/customers/test_cleanup.py checks them against it).
# A stored phone "+86" + one of them + 8 digits is valid without running the long pattern: most phones are.
WHOLE_MOBILE_PREFIXES = tuple(
    f"+86{p}" for p in (*range(130, 140), *range(180, 190), 145, 147, 150, 151, 152, 153, 155, 156, 157, 158, 159,
                        190, 191, 192, 193, 195, 196, 197, 198, 199, 162, 165, 166, 167, 170, 171, 172, 173, 175,
                        176, 177, 178))
# An address surely valid, checked before the full pattern (a quarter of its cost on PostgreSQL): lower case
# ASCII (as the services store it), dot-separated atoms, labels with inner hyphens, a top-level domain of letters.
EMAIL_COMMON_PATTERN = (r"^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*@[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*"
                        r"\.[a-z][a-z]+$")


@lru_cache(maxsize=1)
def phone_pattern() -> str:
    """Return a regular expression matching a stored phone that is valid: a Chinese number in E.164 that
    `phonenumbers` deems valid (built from its metadata for CN, the union of the number types), or another
    country's number in E.164 form."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    types = [getattr(metadata, name) for name in _PHONE_TYPES]
    national = "|".join(f"(?:{desc.national_number_pattern})" for desc in types
                        if desc is not None and desc.national_number_pattern)
    return rf"^\+86(?:{national})$|{_FOREIGN_PHONE}"


def cleanup_required_fields() -> list[tuple[str, ...]]:
    """Return the required data of a record as groups of fields, each group needing one of its fields filled
    (setting FIDELIS_CLEANUP_REQUIRED_FIELDS, "phone|email" for either)."""
    groups = [tuple(f.strip() for f in item.split("|") if f.strip())
              for item in settings.FIDELIS_CLEANUP_REQUIRED_FIELDS]
    for group in groups:
        for field in group:
            if field not in EDITABLE_FIELDS:
                raise ImproperlyConfigured(f"FIDELIS_CLEANUP_REQUIRED_FIELDS names {field!r}, which is no customer "
                                           f"field (one of {', '.join(EDITABLE_FIELDS)})")
    return [g for g in groups if g]


def cleanup_years(raw: Any = None) -> int:
    """Return the years without activity that make a record inactive: `raw` (a query parameter) when given, else
    the setting; refuse anything but a whole number of years from 1 to 50."""
    if raw in (None, ""):
        return settings.FIDELIS_CLEANUP_INACTIVE_YEARS
    try:
        years = int(str(raw).strip())
    except ValueError:
        years = 0
    if not 1 <= years <= MAX_INACTIVE_YEARS:
        raise DomainError(_("Give the years without activity as a whole number from 1 to %(max)s.")
                          % {"max": MAX_INACTIVE_YEARS}, field="years")
    return years


def _years_ago(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _empty(field: str) -> Q:
    model_field = Customer._meta.get_field(field)
    return Q(**{f"{field}__isnull": True}) | Q(**{field: ""}) if model_field.null else Q(**{field: ""})


def _invalid_phone(field: str, digits: str) -> Q:
    """Return the condition that a phone column holds something other than a valid number: a common mobile
    number (its search key shows that the rest is digits) is valid at once, others are matched in full."""
    common = (Q(Exact(Length(field), 14)) & Q(In(Substr(field, 1, 6), WHOLE_MOBILE_PREFIXES))
              & Q(Exact(F(field), Concat(Value("+86"), F(digits)))))
    return ~Q(**{field: ""}) & ~common & ~Q(**{f"{field}__regex": phone_pattern()})


def cleanup_conditions(*, years: int, now: datetime | None = None) -> dict[str, Q]:
    """Return, per reason, the condition on a customer row that the record needs attention for it."""
    cutoff = _years_ago(now or timezone.now(), years)
    bounces = (Event.objects.filter(customer=OuterRef("pk"), type=EMAIL_BOUNCED)
               .annotate(address=Lower(KT("payload__email")))
               .filter(Q(address__isnull=True) | Q(address="") | Q(address=OuterRef("email_normalized"))))
    incomplete = Q(pk__in=[])
    for group in cleanup_required_fields():
        missing = Q()
        for field in group:
            missing &= _empty(field)
        incomplete |= missing
    return {
        CleanupReason.INVALID_PHONE: _invalid_phone("phone", "phone_digits")
        | _invalid_phone("phone_alt", "phone_alt_digits"),
        CleanupReason.INVALID_EMAIL: ~Q(email="") & ~Q(email__regex=EMAIL_COMMON_PATTERN)
        & ~Q(email__iregex=EMAIL_PATTERN),
        # The customers with any bounce first, found once through the type's index: the test of the address
        # runs only for them.
        CleanupReason.BOUNCED: ~Q(email="")
        & Q(pk__in=Event.objects.filter(type=EMAIL_BOUNCED).values("customer_id")) & Q(Exists(bounces)),
        CleanupReason.INACTIVE: Q(created_at__lt=cutoff)
        & ~Q(Exists(Event.objects.filter(customer=OuterRef("pk"), occurred_at__gte=cutoff))),
        CleanupReason.INCOMPLETE: incomplete,
    }


# The reasons in the order a row is tested for any of them: the cheap column tests first, the searches of the
# customer's events last.
_COST_ORDER = (CleanupReason.INCOMPLETE, CleanupReason.INVALID_PHONE, CleanupReason.INVALID_EMAIL,
               CleanupReason.BOUNCED, CleanupReason.INACTIVE)


def _any(conditions: dict[str, Q]) -> Q:
    result = Q(pk__in=[])
    for reason in _COST_ORDER:
        result |= conditions[reason]
    return result


def cleanup_base_qs(user) -> QuerySet[Customer]:
    """Return the customers the user sees that may need attention: not erased, not archived."""
    return customer_visible_qs(user).filter(erased_at__isnull=True, archived_at__isnull=True)


def cleanup_counts(user, *, years: int) -> dict[str, int]:
    """Return how many visible records need attention, per reason and in all ("total"), in one query."""
    conditions = cleanup_conditions(years=years)
    # Each row's reasons once, in a subquery, then summed: a COUNT(…) FILTER per reason and one for the total
    # would test every condition twice (the database does not share them between aggregates).
    flags = cleanup_base_qs(user).order_by().annotate(**{
        f"is_{r}": models.ExpressionWrapper(c, output_field=models.BooleanField()) for r, c in conditions.items()
    }).values(*(f"is_{r}" for r in conditions))
    sql, params = flags.query.sql_with_params()
    quoted = {r: connection.ops.quote_name(f"is_{r}") for r in conditions}
    sums = [f"COALESCE(SUM(CASE WHEN {' OR '.join(quoted[r] for r in _COST_ORDER)} THEN 1 ELSE 0 END), 0)",
            *(f"COALESCE(SUM(CASE WHEN {quoted[r]} THEN 1 ELSE 0 END), 0)" for r in conditions)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(sums)} FROM ({sql}) flags", params)
        row = cursor.fetchone()
    return dict(zip(["total", *(str(r) for r in conditions)], (int(n) for n in row), strict=True))


def cleanup_list(user, *, years: int, reason: str = "") -> QuerySet[Customer]:
    """Return the visible records needing attention (for one reason, or any), newest first, each annotated with
    its reasons (`is_<reason>`) and the time of its latest event (`last_event_at`)."""
    conditions = cleanup_conditions(years=years)
    if reason and reason not in conditions:
        raise DomainError(_("Unknown reason: %(reason)s") % {"reason": reason}, field="reason")
    latest = Event.objects.filter(customer=OuterRef("pk")).order_by("-occurred_at", "-id").values("occurred_at")[:1]
    return (cleanup_base_qs(user).filter(conditions[reason] if reason else _any(conditions))
            .select_related("owner")
            .annotate(last_event_at=models.Subquery(latest),
                      **{f"is_{r}": models.ExpressionWrapper(c, output_field=models.BooleanField())
                         for r, c in conditions.items()})
            .order_by("-created_at", "-id"))


def cleanup_reasons_of(customer: Customer) -> list[str]:
    """Return the labels of the reasons an annotated row of `cleanup_list` needs attention for."""
    return [label for value, label in CleanupReason.choices if getattr(customer, f"is_{value}", False)]


def cleanup_recent_actions(user, *, limit: int = 20) -> list[dict[str, Any]]:
    """Return the latest clean-up actions on records the user sees, from the audit log: when, who, what, on which
    record, and for an assignment the new owner."""
    visible = customer_visible_qs(user).values("public_id")
    entries = list(AuditEntry.objects.filter(action__in=CLEANUP_ACTIONS, object_type=Customer._meta.label_lower,
                                             object_id__in=visible)
                   .select_related("actor").order_by("-created_at", "-id")[:limit])
    owner_ids = {e.changes.get("owner_id", [None, None])[1] for e in entries if e.action == ACTION_ASSIGN}
    owners = {u.pk: str(u) for u in User.objects.filter(pk__in=[i for i in owner_ids if i])}
    return [{"entry": e, "label": action_label(e.action),
             "owner": owners.get(e.changes.get("owner_id", [None, None])[1], "") if e.action == ACTION_ASSIGN
             else ""} for e in entries]


def cleanup_customers_for_ids(user, public_ids: list[str]) -> list[Customer]:
    """Return the customers chosen on the list by public id; refuse when none is chosen, too many are, or one of
    them is not a record the user sees."""
    ids = list(dict.fromkeys(i.strip() for i in public_ids if i and i.strip()))
    if not ids:
        raise DomainError(_("Choose at least one record."), code=CustomerCode.REQUIRED, field="customers")
    if len(ids) > MAX_BULK:
        raise DomainError(_("Choose at most %(max)s records at once.") % {"max": MAX_BULK}, field="customers")
    customers = list(customer_visible_qs(user).filter(public_id__in=ids).order_by("pk"))
    if len(customers) != len(ids):
        raise DomainError(_("Some of the chosen records no longer exist or are not yours to see; nothing was changed."),
                          code=CustomerCode.NOT_FOUND, field="customers")
    return customers


def _require_cleanup(actor) -> None:
    capability_check(actor, "customer.cleanup", _("You may not clean up the customer archive."))


def _locked(customers: list[Customer]) -> list[Customer]:
    """Lock the rows in pk order (as every service locking several customers does) and refuse erased or merged
    records, which a clean-up action may no longer change."""
    rows = list(Customer.objects.select_for_update().filter(pk__in=[c.pk for c in customers]).order_by("pk"))
    if len(rows) != len(customers):
        raise DomainError(_("Some of the chosen records no longer exist; nothing was changed."),
                          code=CustomerCode.NOT_FOUND, field="customers")
    for row in rows:
        if row.merged_into_id:
            raise DomainError(_("%(number)s was merged into another record; nothing was changed.")
                              % {"number": row.number}, code=CustomerCode.MERGED, field="customers")
        if row.erased_at:
            raise DomainError(_("The personal data of %(number)s was erased; nothing was changed.")
                              % {"number": row.number}, code=CustomerCode.ERASED, field="customers")
    return rows


@transaction.atomic(durable=True)
def customers_archive(*, actor, customers: list[Customer]) -> int:
    """Archive the records (they leave the clean-up list); one audit entry each; return how many."""
    _require_cleanup(actor)
    rows = [c for c in _locked(customers) if c.archived_at is None]
    now = timezone.now()
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(archived_at=now, updated_at=now)
    AuditEntry.objects.bulk_create([
        audit_entry(actor=actor, action=ACTION_ARCHIVE, obj=c, changes={"archived_at": [None, now.isoformat()]})
        for c in rows])
    return len(rows)


@transaction.atomic(durable=True)
def customer_restore(*, actor, customer: Customer) -> Customer:
    """Bring an archived record back to the working lists; audited."""
    _require_cleanup(actor)
    row = _locked([customer])[0]
    if row.archived_at is None:
        raise DomainError(_("This record is not archived."), code=CustomerCode.NOT_ARCHIVED)
    audit_record(actor=actor, action=ACTION_RESTORE, obj=row, changes={"archived_at": [row.archived_at.isoformat(),
                                                                                        None]})
    row.archived_at = None
    row.save(update_fields=["archived_at", "updated_at"])
    return row


@transaction.atomic(durable=True)
def customers_assign(*, actor, customers: list[Customer], owner: User | None) -> int:
    """Give the records to an owner (an active staff user); one audit entry each; return how many changed."""
    _require_cleanup(actor)
    if owner is None or not has_capability(owner, "customer.change"):
        raise DomainError(_("Choose an active user who may look after customers as the owner."), code=CustomerCode.UNKNOWN_USER, field="owner")
    rows = [c for c in _locked(customers) if c.owner_id != owner.pk]
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(owner=owner, updated_at=timezone.now())
    AuditEntry.objects.bulk_create([
        audit_entry(actor=actor, action=ACTION_ASSIGN, obj=c, changes={"owner_id": [c.owner_id, owner.pk]})
        for c in rows])
    return len(rows)


@transaction.atomic(durable=True)
def customers_erase(*, actor, customers: list[Customer], reason: str) -> int:
    """Erase the personal data of every record as `privacy.customer_erase` does (it checks the privacy capability
    and audits each); all of them or, when one is refused, none."""
    _require_cleanup(actor)
    _locked(customers)
    for customer in customers:
        erase_within(actor=actor, customer=customer, reason=reason)
    return len(customers)

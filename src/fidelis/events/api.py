"""The event stream over HTTP: outside systems (POS, shop, WeChat) send events, each with an idempotency key."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Router, Status

from fidelis.accounts.api_auth import requires
from fidelis.core.errors import Conflict, DomainError, NotFound
from fidelis.core.idempotency import KEY_HEADER, check_idempotency_key
from fidelis.customers.models import Customer
from fidelis.customers.normalize import InvalidPhone, normalize_phone, phone_search_digits
from fidelis.customers.selectors import customer_require_writable, customer_visible_qs
from fidelis.events.errors import EventCode
from fidelis.events.schemas import EventIn, EventOut
from fidelis.events.services import record_event

router = Router(tags=["events"])


def _by_phone(user, raw: str, field: str) -> Customer | None:
    try:
        e164 = normalize_phone(raw)
    except InvalidPhone:
        raise DomainError(_("“%(value)s” is not a valid phone number.") % {"value": raw}, code=EventCode.INVALID_PHONE,
                          field=field)
    digits = phone_search_digits(e164)
    if not digits:
        return None
    matches = list(customer_visible_qs(user).filter(phone_digits=digits).order_by("pk")[:2])
    if len(matches) > 1:
        raise Conflict(_("Several customers have this phone number; name the customer by number instead."),
                       code=EventCode.AMBIGUOUS_CUSTOMER, field=field)
    return matches[0] if matches else None


def event_customer(user, payload: EventIn) -> Customer:
    """Return the visible customer the event names, or raise NotFound naming the field."""
    given = [(f, getattr(payload, f).strip()) for f in ("customer", "customer_number", "phone")
             if getattr(payload, f) and getattr(payload, f).strip()]
    if not given:
        raise DomainError(_("Name the customer: its id, customer number or phone."), code=EventCode.REQUIRED,
                          field="customer")
    if len(given) > 1:
        raise DomainError(_("Name the customer once: by id, customer number or phone."), code=EventCode.INVALID,
                          field=given[1][0])
    field, value = given[0]
    visible = customer_visible_qs(user)
    customer = None
    if field == "customer":
        customer = (visible.filter(public_id=value).first()
                    or visible.filter(number=value.upper()).first())
        if customer is None and any(c.isdigit() for c in value):
            try:
                customer = _by_phone(user, value, field)
            except DomainError as exc:
                if exc.code != EventCode.INVALID_PHONE:
                    raise
    elif field == "customer_number":
        customer = visible.filter(number=value.upper()).first()
    else:
        customer = _by_phone(user, value, field)
    if customer is None:
        raise NotFound(_("No such customer."), code=EventCode.NOT_FOUND, field=field)
    return customer


@router.post("", response={200: EventOut, 201: EventOut}, summary=gettext_lazy("Record an event"),
             description=gettext_lazy("The same Idempotency-Key header again gives the first answer again "
                                      "(Idempotent-Replayed: true); with another request it is refused "
                                      "(409). A key in the body names the event: the same one again gives "
                                      "the first event back (200, created false)."))
@requires("events:write", "event.add")
def event_post(request, payload: EventIn, idempotency_key: str | None = KEY_HEADER):
    key = payload.idempotency_key or (idempotency_key or "").strip() or None
    if payload.idempotency_key and idempotency_key and idempotency_key.strip() != payload.idempotency_key:
        raise DomainError(_("The Idempotency-Key header and the body disagree."), code=EventCode.INVALID,
                          field="idempotency_key")
    check_idempotency_key(key)
    customer = event_customer(request.auth, payload)
    customer_require_writable(customer)
    occurred_at = payload.occurred_at
    if occurred_at is not None and timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    try:
        with transaction.atomic():
            event, created = record_event(customer=customer, type=payload.type, actor=request.auth,
                                          occurred_at=occurred_at, channel=payload.channel,
                                          touchpoint=payload.touchpoint, summary=payload.summary,
                                          payload=payload.payload, idempotency_key=key)
    except DomainError as exc:
        if exc.code == EventCode.IDEMPOTENCY_CONFLICT:
            raise Conflict(exc.message, code=exc.code, field=exc.field)
        raise
    event.created = created
    return Status(201 if created else 200, event)

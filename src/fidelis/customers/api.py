"""The customer archive over HTTP: search, create, change, tags, consent, timeline."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Router, Status

from fidelis.accounts.api_auth import requires
from fidelis.accounts.models import User
from fidelis.core.errors import DomainError, NotFound
from fidelis.core.types import Int, Text
from fidelis.customers.errors import CustomerCode
from fidelis.customers.models import Customer, Tag
from fidelis.customers.schemas import (
    ConsentIn,
    ConsentOut,
    CustomerCreateIn,
    CustomerDetailOut,
    CustomerListOut,
    CustomerPatchIn,
    DuplicateCustomerOut,
    TagIn,
    TimelineOut,
)
from fidelis.customers.selectors import (
    customer_get_for_user,
    customer_list_filtered,
    customer_search,
    customer_timeline,
)
from fidelis.customers.services import (
    EDITABLE_FIELDS,
    consent_set,
    customer_create,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
)
from fidelis.events.models import Event

router = Router(tags=["customers"])

READ, WRITE = "customers:read", "customers:write"
MAX_PAGE = 200


def _model_values(data: dict[str, Any]) -> dict[str, Any]:
    # JSON null on a text field means "empty"; the model stores "" there.
    values = {}
    for field, value in data.items():
        if field in EDITABLE_FIELDS:
            values[field] = "" if value is None and field != "birthday" else value
    return values


def _owner(username: str | None) -> User | None:
    if not username:
        return None
    owner = User.objects.filter(username=username, is_active=True).first()
    if owner is None:
        raise DomainError(_("No active user is called “%(name)s”.") % {"name": username}, code=CustomerCode.UNKNOWN_USER,
                          field="owner")
    return owner


def _detail(request, public_id: str) -> Customer:
    return _loaded(customer_get_for_user(request.auth, public_id))


def _loaded(customer: Customer) -> Customer:
    """Return the customer with what its detail shows.

    Called directly (not through `_detail`) with the customer a write returned: the answer describes what was
    written even when the caller no longer sees it (a sales rep who gave the customer to a colleague), because the
    write committed and an error would invite a retry.
    """
    return (Customer.objects.select_related("owner")
            .prefetch_related("tags", "consents", "contacts").get(pk=customer.pk))


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


@router.get("", response=CustomerListOut, summary=gettext_lazy("Search or list customers"),
            description=gettext_lazy("Find customers by number, name (Hanzi, pinyin, initials), phone in any "
                                     "format, e-mail, company or tag. Without `q`, list the visible customers, "
                                     "newest first."))
@requires(READ, "customer.view")
def customer_list(request, q: str = "", category: str = "", tag: str = "", limit: Int = 20, offset: Int = 0):
    """Find customers by number, name, phone, e-mail, company or tag; without `q`, list them newest first."""
    limit, offset = _page(limit, offset)
    if q.strip():
        found = customer_search(request.auth, q, limit=limit + offset)
        if category:
            found = [c for c in found if c.category == category]
        if tag:
            found = [c for c in found if c.customertag_set.filter(tag__name=tag).exists()]
        items = found[offset:offset + limit]
        # The search keeps the owners; the tags come in one query for the page.
        tagged = {c.pk: c for c in Customer.objects.filter(pk__in=[c.pk for c in items])
                  .select_related("owner").prefetch_related("tags")}
        return {"count": len(found), "items": [tagged[c.pk] for c in items]}
    qs = customer_list_filtered(request.auth, category=category, tag=tag)
    return {"count": qs.count(), "items": list(qs[offset:offset + limit])}


@router.post("", response={201: CustomerDetailOut, 409: DuplicateCustomerOut},
             summary=gettext_lazy("Create a customer"),
             description=gettext_lazy(
                 "The answer is the customer as written. A customer whose phone, other phone or e-mail an active "
                 "customer already has is refused with 409 `duplicate_customer`, naming the `field` and the "
                 "stored customer (`existing`), or only its `owner` when the caller may not see it; send "
                 "`\"allow_duplicate\": true` to create it all the same (the pair is then listed for review among "
                 "the possible duplicates). A sales rep who names another rep as `owner` gets 201 with the "
                 "customer, which from then on only its owner and managers see."))
@requires(WRITE, "customer.add")
def customer_add(request, payload: CustomerCreateIn):
    """Create a customer (refusing a duplicate unless allowed); the answer is the customer as written."""
    data = payload.model_dump(exclude_unset=True)
    tags = data.pop("tags", [])
    allow_duplicate = data.pop("allow_duplicate", False)
    owner = _owner(data.pop("owner", None))
    customer = customer_create(actor=request.auth, data=_model_values(data), tags=tags, owner=owner, via="api",
                               channel="api", allow_duplicate=allow_duplicate)
    return Status(201, _loaded(customer))


@router.get("/{public_id}", response=CustomerDetailOut,
            summary=gettext_lazy("One customer with tags, consents and contacts"))
@requires(READ, "customer.view")
def customer_detail(request, public_id: Text):
    return _detail(request, public_id)


@router.patch("/{public_id}", response=CustomerDetailOut,
              summary=gettext_lazy("Change some fields of a customer"),
              description=gettext_lazy(
                  "Only the fields sent change; the answer is the customer as written. A sales rep who gives the "
                  "customer to another rep (`owner`) gets 200 with the customer as written, which from then on "
                  "only its new owner and managers see."))
@requires(WRITE, "customer.change")
def customer_change(request, public_id: Text, payload: CustomerPatchIn):
    """Change the given fields; the answer is the customer as written."""
    customer = customer_get_for_user(request.auth, public_id)
    data = payload.model_dump(exclude_unset=True)
    if "name" in data and data["name"] is None:
        raise DomainError(_("A customer needs a name."), code=CustomerCode.REQUIRED, field="name")
    values = _model_values(data)
    if "owner" in data:
        values["owner"] = _owner(data["owner"])
    customer = customer_update(actor=request.auth, customer=customer, data=values, via="api")
    return _loaded(customer)


@router.post("/{public_id}/tags", response=CustomerDetailOut, summary=gettext_lazy("Put a tag on a customer"))
@requires(WRITE, "customer.change")
def customer_tag_post(request, public_id: Text, payload: TagIn):
    customer = customer_get_for_user(request.auth, public_id)
    customer_tag_add(actor=request.auth, customer=customer, tag_name=payload.tag, via="api")
    return _detail(request, public_id)


@router.delete("/{public_id}/tags/{tag_name}", response={204: None},
               summary=gettext_lazy("Take a tag off a customer"))
@requires(WRITE, "customer.change")
def customer_tag_delete(request, public_id: Text, tag_name: Text):
    customer = customer_get_for_user(request.auth, public_id)
    name = tag_name.split(":", 1)[1].strip() if ":" in tag_name else tag_name.strip()
    tag = Tag.objects.filter(name=name, customertag__customer=customer).first()
    if tag is None:
        raise NotFound(_("This customer has no such tag."), code=CustomerCode.NOT_FOUND, field="tag")
    customer_tag_remove(actor=request.auth, customer=customer, tag=tag, via="api")
    return Status(204, None)


@router.put("/{public_id}/consent/{channel}", response=ConsentOut,
            summary=gettext_lazy("Record consent for a channel"))
@requires(WRITE, "customer.consent")
def customer_consent_put(request, public_id: Text, channel: Text, payload: ConsentIn):
    customer = customer_get_for_user(request.auth, public_id)
    return consent_set(actor=request.auth, customer=customer, channel=channel, granted=payload.granted,
                       source=payload.source, via="api")


@router.get("/{public_id}/events", response=TimelineOut,
            summary=gettext_lazy("The customer's timeline, newest first"))
@requires(READ, "customer.view")
def customer_events(request, public_id: Text, before: str = "", limit: Int = 50):
    customer = customer_get_for_user(request.auth, public_id)
    before_id = None
    if before:
        before_id = Event.objects.filter(customer=customer, public_id=before).values_list("pk", flat=True).first()
        if before_id is None:
            raise DomainError(_("No such event on this customer's timeline."), code=CustomerCode.UNKNOWN_EVENT, field="before")
    limit = max(1, min(limit, MAX_PAGE))
    events = customer_timeline(customer, limit=limit, before_id=before_id)
    return {"items": events, "next_before": events[-1].public_id if len(events) == limit else None}


"""Writes on the sales pipeline: opportunities and their stage moves, contracts and their renewals (MISSION C1, C2).

Each service is one transaction with its audit row and, for opportunities, its events on the customer's timeline:
`opportunity.created`, `opportunity.stage_changed`, `opportunity.won`, `opportunity.lost`; contracts write
`contract.signed`, `contract.renewed` and `contract.terminated`, and the hourly expiry check `contract.expiring`
(work turns it into the owner's renewal to-do). A won opportunity may produce an order (through
`fidelis.sales.services.order_create`, so the member club awards its points) and a contract, in the same
transaction as the move.

Ownership: a sales rep creates and changes only their own opportunities and contracts, on customers they may see;
managers change the whole team's and reassign them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fidelis.accounts.models import Role, User
from fidelis.accounts.permissions import capability_check, has_capability
from fidelis.accounts.services import audit_record
from fidelis.core.dates import parse_date
from fidelis.core.errors import DomainError, NotFound, PermissionDenied, full_clean_or_raise
from fidelis.customers.models import Customer
from fidelis.customers.selectors import customer_require_writable, customer_visible_qs
from fidelis.events.services import record_event
from fidelis.pipeline.errors import PipelineCode
from fidelis.pipeline.models import (
    REQUIRABLE_FIELDS,
    Contract,
    ContractStatus,
    LostReason,
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    Pipeline,
    Stage,
    StageKind,
)
from fidelis.sales.models import PaymentMethod, Product
from fidelis.sales.services import money, order_create, plain_value

DEFAULT_PIPELINE_NAME = "销售漏斗"
# name, probability %, kind, fields required to enter the stage
DEFAULT_STAGES: list[tuple[str, int, str, list[str]]] = [
    ("初步接触", 10, StageKind.OPEN, []),
    ("需求确认", 30, StageKind.OPEN, []),
    ("方案报价", 60, StageKind.OPEN, ["expected_amount", "expected_close_date"]),
    ("谈判", 80, StageKind.OPEN, ["expected_amount", "expected_close_date"]),
    ("赢单", 100, StageKind.WON, ["expected_amount"]),
    ("输单", 0, StageKind.LOST, []),
]
OPPORTUNITY_FIELDS = ("title", "source", "expected_amount", "expected_close_date", "probability", "owner", "notes",
                      "products")
CONTRACT_FIELDS = ("title", "amount", "payment_method", "start_date", "end_date", "signed_at", "notes", "owner",
                   "status")


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return plain_value(value)


def field_label(field: str) -> str:
    """Return the translated name of an opportunity field (for errors naming a missing field)."""
    return str(Opportunity._meta.get_field(field).verbose_name)


# --- parsing ------------------------------------------------------------------------------------------------------


def probability_parse(value: Any) -> int:
    """Return the probability as a whole number from 0 to 100; refuse anything else."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 100 or str(value).strip() not in (str(number), f"{number}.0"):
        raise DomainError(_("The probability is a whole number from 0 to 100."), code=PipelineCode.INVALID_PROBABILITY,
                          field="probability")
    return number


def text_clean(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    """Return the text stripped, refusing it when required and empty or longer than max_length."""
    text = str(value or "").strip()
    if required and not text:
        raise DomainError(_("This field is required."), code=PipelineCode.REQUIRED, field=field)
    if len(text) > max_length:
        raise DomainError(_("At most %(n)s characters.") % {"n": max_length}, code=PipelineCode.TOO_LONG, field=field)
    return text


def choice_clean(value: Any, choices, *, field: str) -> str:
    """Return the value stripped when it is one of the choices' values; refuse it otherwise."""
    text = str(value or "").strip()
    if text not in choices.values:
        raise DomainError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)},
                          code=PipelineCode.INVALID_CHOICE, field=field)
    return text


def _products(values: Any) -> list[Product]:
    wanted = list(values or [])
    found, skus = [], []
    for value in wanted:
        if isinstance(value, Product):
            found.append(value)
        else:
            skus.append(str(value).strip().upper())
    if skus:
        by_sku = {p.sku: p for p in Product.objects.filter(Q(sku__in=skus) | Q(public_id__in=skus))}
        by_id = {p.public_id.upper(): p for p in by_sku.values()}
        for sku in skus:
            product = by_sku.get(sku) or by_id.get(sku)
            if product is None:
                raise DomainError(_("There is no product with SKU %(sku)s.") % {"sku": sku}, code=PipelineCode.UNKNOWN_PRODUCT,
                                  field="products")
            found.append(product)
    return list(dict.fromkeys(found))


# --- who may do what ----------------------------------------------------------------------------------------------


def is_rep(user) -> bool:
    """Return whether the user is a sales rep (who sees and changes only their own opportunities and contracts)."""
    return getattr(user, "effective_role", None) == Role.SALES


def _check_customer(actor, customer: Customer) -> None:
    if actor is not None and not customer_visible_qs(actor).filter(pk=customer.pk).exists():
        raise NotFound(_("No such customer."), code=PipelineCode.NOT_FOUND, field="customer")
    customer_require_writable(customer)


def _owner(actor, owner: Any, customer: Customer, capability: str, current: User | None = None) -> User:
    """Return the owner to set: a rep owns what they record; a manager may give it to anyone who may change it."""
    if owner in (None, "") and current is not None:
        owner = current
    if owner in (None, ""):
        if actor is None:
            raise DomainError(_("Name the owner."), code=PipelineCode.REQUIRED, field="owner")
        owner = actor
    if not isinstance(owner, User):
        text = str(owner).strip()
        owner = (User.objects.filter(pk=int(text)).first() if text.isdigit()
                 else User.objects.filter(username=text).first())
        if owner is None:
            raise DomainError(_("No such active user: %(value)s") % {"value": text}, code=PipelineCode.UNKNOWN_OWNER,
                              field="owner")
    if actor is not None and is_rep(actor) and owner.pk != actor.pk and (current is None or owner.pk != current.pk):
        raise PermissionDenied(_("Only a manager gives an opportunity or contract to someone else."),
                               code=PipelineCode.FORBIDDEN, field="owner")
    if not owner.is_active or not has_capability(owner, capability):
        raise DomainError(_("%(user)s may not own sales records.") % {"user": owner}, code=PipelineCode.INVALID_OWNER,
                          field="owner")
    if not customer_visible_qs(owner).filter(pk=customer.pk).exists():
        raise DomainError(_("%(user)s cannot see this customer; give it to the customer's owner.") % {"user": owner},
                          code=PipelineCode.OWNER_CANNOT_SEE_CUSTOMER, field="owner")
    return owner


def _visible(actor, model, obj, capability: str, message: str):
    """Return the object's row locked for this change; NotFound when the actor may not see it."""
    capability_check(actor, capability, message)
    qs = model.objects.select_for_update(of=("self",))
    if actor is not None and is_rep(actor):
        qs = qs.filter(owner=actor, customer__in=customer_visible_qs(actor))
    found = qs.filter(pk=obj.pk).first()
    if found is None:
        raise NotFound(_("Not found."), code=PipelineCode.NOT_FOUND)
    return found


def _actor_user(actor) -> User | None:
    return actor if getattr(actor, "is_authenticated", False) else None


# --- pipelines ----------------------------------------------------------------------------------------------------


def pipeline_default() -> Pipeline:
    """Return the default pipeline, creating it with the standard stages on first use."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is not None:
        return pipeline
    try:
        # A savepoint: two first uses at once both try; the unique default lets one win and the other read it.
        with transaction.atomic():
            pipeline = Pipeline.objects.create(name=DEFAULT_PIPELINE_NAME, is_default=True)
            Stage.objects.bulk_create([
                Stage(pipeline=pipeline, name=name, order=index * 10, probability=probability, kind=kind,
                      required_fields=required)
                for index, (name, probability, kind, required) in enumerate(DEFAULT_STAGES, start=1)])
            audit_record(actor=None, action="pipeline.create", obj=pipeline, via="system",
                         changes={"name": [None, pipeline.name]})
    except IntegrityError:
        pipeline = Pipeline.objects.filter(is_default=True).first()
        if pipeline is None:
            raise
    return pipeline


def _stage(value: Any, pipeline: Pipeline | None = None) -> Stage:
    if isinstance(value, Stage):
        stage = value
    else:
        text = str(value or "").strip()
        pipeline = pipeline or pipeline_default()
        qs = Stage.objects.filter(pipeline=pipeline)
        stage = (qs.filter(pk=int(text)).first() if text.isdigit() else None) or qs.filter(name=text).first()
        if stage is None:
            raise DomainError(_("No such stage: %(value)s") % {"value": text}, code=PipelineCode.UNKNOWN_STAGE, field="stage")
    if pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise DomainError(_("This stage belongs to another pipeline."), code=PipelineCode.UNKNOWN_STAGE, field="stage")
    return stage


def _check_required(opportunity: Opportunity, stage: Stage, products: list[Product] | None = None) -> None:
    for field in stage.required_fields or []:
        if field not in REQUIRABLE_FIELDS:
            continue
        if field == "products":
            missing = not (products if products is not None else
                           (opportunity.pk and opportunity.products.exists()))
        else:
            missing = getattr(opportunity, field) in (None, "")
        if missing:
            raise DomainError(_("Fill in “%(field)s” before the stage “%(stage)s”.")
                              % {"field": field_label(field), "stage": stage.name},
                              code=PipelineCode.STAGE_REQUIRES_FIELD, field=field, stage=stage.name)


# --- opportunities ------------------------------------------------------------------------------------------------


def _apply(opportunity: Opportunity, data: dict[str, Any]) -> list[Product] | None:
    """Set the opportunity's fields from the data (checked); return the products when they are given."""
    unknown = sorted(set(data) - set(OPPORTUNITY_FIELDS) - {"owner"})
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": unknown[0]}, code=PipelineCode.UNKNOWN_FIELD,
                          field=unknown[0])
    if "title" in data:
        opportunity.title = text_clean(data["title"], field="title", max_length=120, required=True)
    if "source" in data:
        opportunity.source = choice_clean(data["source"], OpportunitySource, field="source")
    if "expected_amount" in data:
        raw = data["expected_amount"]
        opportunity.expected_amount = None if raw in (None, "") else money(raw, field="expected_amount")
    if "expected_close_date" in data:
        opportunity.expected_close_date = parse_date(data["expected_close_date"], field="expected_close_date")
    if "probability" in data and data["probability"] not in (None, ""):
        opportunity.probability = probability_parse(data["probability"])
    if "notes" in data:
        opportunity.notes = text_clean(data["notes"], field="notes", max_length=4000)
    return _products(data["products"]) if "products" in data else None


def _snapshot(opportunity: Opportunity) -> dict[str, Any]:
    return {f: _plain(getattr(opportunity, f)) for f in OPPORTUNITY_FIELDS if f != "products"} | {
        "stage": opportunity.stage.name if opportunity.stage_id else None}


def opportunity_event_payload(opportunity: Opportunity, at_stage: Stage | None = None, **payload) -> dict[str, Any]:
    """Return the payload of an opportunity's timeline event, at its stage or `at_stage` (the demo writes past
    steps in bulk)."""
    stage = at_stage or opportunity.stage
    return {"opportunity": opportunity.public_id, "title": opportunity.title, "stage": stage.name,
            "probability": opportunity.probability, "expected_amount": str(opportunity.expected_amount or ""),
            **payload}


def _event(opportunity: Opportunity, type: str, actor, **payload) -> None:
    record_event(customer=opportunity.customer, type=type, actor=actor,
                 payload=opportunity_event_payload(opportunity, **payload))


@transaction.atomic
def opportunity_create(*, actor, customer: Customer, title: str, source: str = OpportunitySource.WALK_IN,
                       expected_amount: Any = None, expected_close_date: Any = None, stage: Any = None,
                       probability: Any = None, products: Any = None, owner: Any = None, notes: str = "",
                       via: str = "web") -> Opportunity:
    """Record an opportunity on a customer in an open stage (default: the first); return it."""
    capability_check(actor, "opportunity.change", _("You may not record opportunities."))
    _check_customer(actor, customer)
    pipeline = pipeline_default() if stage in (None, "") or not isinstance(stage, Stage) else stage.pipeline
    the_stage = _stage(stage, pipeline) if stage not in (None, "") else pipeline.stages.order_by("order").first()
    if the_stage.kind != StageKind.OPEN:
        raise DomainError(_("A new opportunity starts in an open stage; move it to won or lost afterwards."),
                          code=PipelineCode.CLOSED_STAGE, field="stage")
    opportunity = Opportunity(customer=customer, stage=the_stage, status=the_stage.kind,
                              probability=the_stage.probability, created_by=_actor_user(actor))
    data = {"title": title, "source": source, "expected_amount": expected_amount,
            "expected_close_date": expected_close_date, "probability": probability, "notes": notes}
    if products is not None:
        data["products"] = products
    chosen = _apply(opportunity, data)
    opportunity.owner = _owner(actor, owner, customer, "opportunity.change")
    _check_required(opportunity, the_stage, chosen or [])
    full_clean_or_raise(opportunity)
    opportunity.save()
    if chosen:
        opportunity.products.set(chosen)
    OpportunityStageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=the_stage,
                                          changed_by=_actor_user(actor), changed_at=opportunity.created_at)
    audit_record(actor=actor, action="opportunity.create", obj=opportunity, via=via,
                 changes={k: [None, v] for k, v in _snapshot(opportunity).items() if v not in (None, "")})
    _event(opportunity, "opportunity.created", actor, source=opportunity.source)
    return opportunity


@transaction.atomic
def opportunity_update(*, actor, opportunity: Opportunity, data: dict[str, Any], via: str = "web") -> Opportunity:
    """Change some fields of an opportunity (a manager may also give it to another owner); return it."""
    opportunity = _visible(actor, Opportunity, opportunity, "opportunity.change",
                           _("You may not change opportunities."))
    before = _snapshot(opportunity)
    chosen = _apply(opportunity, data)
    if "owner" in data:
        opportunity.owner = _owner(actor, data["owner"], opportunity.customer, "opportunity.change",
                                   current=opportunity.owner)
    _check_required(opportunity, opportunity.stage, chosen)
    full_clean_or_raise(opportunity)
    after = _snapshot(opportunity)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if chosen is not None:
        old = sorted(opportunity.products.values_list("sku", flat=True))
        new = sorted(p.sku for p in chosen)
        if old != new:
            opportunity.products.set(chosen)
            changes["products"] = [old, new]
    if changes:
        opportunity.save()
        audit_record(actor=actor, action="opportunity.update", obj=opportunity, via=via, changes=changes)
        if "owner" in changes:
            _event(opportunity, "opportunity.reassigned", actor, owner=opportunity.owner.username,
                   owner_name=str(opportunity.owner))
    return opportunity


@transaction.atomic
def opportunity_move(*, actor, opportunity: Opportunity, stage: Any, data: dict[str, Any] | None = None,
                     lost_reason: str = "", lost_note: str = "", order: dict[str, Any] | None = None,
                     contract: dict[str, Any] | None = None, via: str = "web") -> Opportunity:
    """Move an opportunity to another stage, filling `data` first; record the events; return it.

    Entering a stage needs the fields it requires. Won: `order` (lines, channel, store, payment method…) records
    the order through `order_create`, `contract` (number, amount, dates…) the contract. Lost needs a reason.
    A won opportunity is final; a lost one may be reopened.
    """
    opportunity = _visible(actor, Opportunity, opportunity, "opportunity.change",
                           _("You may not change opportunities."))
    target = _stage(stage, opportunity.stage.pipeline)
    source_stage = opportunity.stage
    if target.pk == source_stage.pk and not data:
        return opportunity
    if source_stage.kind == StageKind.WON and target.pk != source_stage.pk:
        raise DomainError(_("This opportunity is won; it cannot move any more."), code=PipelineCode.CLOSED, field="stage")
    before = _snapshot(opportunity)
    chosen = _apply(opportunity, dict(data or {}))
    if (order or contract) and target.kind != StageKind.WON:
        raise DomainError(_("Only a won opportunity creates an order or a contract."), code=PipelineCode.NOT_WON, field="stage")
    _check_required(opportunity, target, chosen)
    now = timezone.now()
    moved = target.pk != source_stage.pk
    if moved:
        opportunity.stage, opportunity.status = target, target.kind
        opportunity.probability = target.probability
        opportunity.stage_changed_at = now
        opportunity.won_at = opportunity.lost_at = opportunity.closed_at = opportunity.cycle_days = None
        opportunity.lost_reason, opportunity.lost_note = "", ""
        if target.kind != StageKind.OPEN:
            opportunity.closed_at = now
            opportunity.cycle_days = max((now - opportunity.created_at).days, 0)
        if target.kind == StageKind.WON:
            opportunity.won_at = now
        elif target.kind == StageKind.LOST:
            opportunity.lost_reason = choice_clean(lost_reason, LostReason, field="lost_reason") if lost_reason \
                else _missing_reason()
            opportunity.lost_note = text_clean(lost_note, field="lost_note", max_length=300)
            opportunity.lost_at = now
    full_clean_or_raise(opportunity)
    opportunity.save()
    if chosen is not None:
        opportunity.products.set(chosen)
    after = _snapshot(opportunity)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if opportunity.lost_reason:
        changes["lost_reason"] = [None, opportunity.lost_reason]
    if moved:
        OpportunityStageChange.objects.create(opportunity=opportunity, from_stage=source_stage, to_stage=target,
                                              changed_by=_actor_user(actor), changed_at=now)
        _event(opportunity, "opportunity.stage_changed", actor, from_stage=source_stage.name)
    produced: dict[str, str] = {}
    if moved and target.kind == StageKind.WON:
        if order:
            made = order_create(actor=actor, customer=opportunity.customer, via=via,
                                **{k: v for k, v in order.items() if k in ORDER_OPTIONS})
            opportunity.order = made
            opportunity.save(update_fields=["order", "updated_at"])
            produced["order"] = made.order_no
        if contract:
            options = {k: v for k, v in contract.items() if k in CONTRACT_OPTIONS}
            options.setdefault("amount", opportunity.expected_amount)
            options.setdefault("title", opportunity.title)
            made_contract = contract_create(actor=actor, customer=opportunity.customer, opportunity=opportunity,
                                            owner=opportunity.owner, via=via, **options)
            produced["contract"] = made_contract.number
        _event(opportunity, "opportunity.won", actor, **produced)
    elif moved and target.kind == StageKind.LOST:
        _event(opportunity, "opportunity.lost", actor, lost_reason=opportunity.lost_reason,
               lost_note=opportunity.lost_note)
    changes.update({k: [None, v] for k, v in produced.items()})
    audit_record(actor=actor, action="opportunity.move" if moved else "opportunity.update", obj=opportunity,
                 via=via, changes=changes)
    return opportunity


def _missing_reason():
    raise DomainError(_("Say why the opportunity was lost."), code=PipelineCode.REQUIRED, field="lost_reason")


ORDER_OPTIONS = ("lines", "channel", "store", "payment_method", "discount", "paid_at", "order_no", "note")
CONTRACT_OPTIONS = ("number", "amount", "payment_method", "start_date", "end_date", "signed_at", "title", "notes",
                    "status")


# --- contracts ----------------------------------------------------------------------------------------------------


def _contract_number(number: Any, *, exclude: int | None = None) -> str:
    text = str(number or "").strip().upper()
    if not text or len(text) > 40 or any(c.isspace() for c in text):
        raise DomainError(_("A contract number has 1 to 40 characters and no spaces."), code=PipelineCode.INVALID_CONTRACT_NO,
                          field="number")
    if Contract.objects.filter(number=text).exclude(pk=exclude).exists():
        raise DomainError(_("Contract number %(number)s exists already.") % {"number": text},
                          code=PipelineCode.CONTRACT_NO_TAKEN, field="number")
    return text


def _contract_apply(contract: Contract, data: dict[str, Any]) -> None:
    if "title" in data:
        contract.title = text_clean(data["title"], field="title", max_length=120)
    if "amount" in data:
        contract.amount = money(data["amount"], field="amount")
    if "payment_method" in data:
        contract.payment_method = choice_clean(data["payment_method"], PaymentMethod, field="payment_method")
    if "start_date" in data:
        contract.start_date = parse_date(data["start_date"], field="start_date", required=True)
    if "end_date" in data:
        contract.end_date = parse_date(data["end_date"], field="end_date", required=True)
    if "signed_at" in data:
        contract.signed_at = parse_date(data["signed_at"], field="signed_at")
    if "notes" in data:
        contract.notes = text_clean(data["notes"], field="notes", max_length=4000)
    if "status" in data:
        status = choice_clean(data["status"], ContractStatus, field="status")
        if status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
            raise DomainError(_("A contract is renewed, terminated or expires through its own action."),
                              code=PipelineCode.INVALID_STATUS, field="status")
        contract.status = status
    if contract.start_date and contract.end_date and contract.end_date < contract.start_date:
        raise DomainError(_("The end date is before the start date."), code=PipelineCode.INVALID_DATES, field="end_date")


def _contract_snapshot(contract: Contract) -> dict[str, Any]:
    return {f: _plain(getattr(contract, f)) for f in CONTRACT_FIELDS} | {"number": contract.number}


def contract_event_payload(contract: Contract) -> dict[str, Any]:
    """Return the payload of a contract.signed / contract.renewed event (also written in bulk by the demo)."""
    return {"contract": contract.public_id, "number": contract.number, "amount": str(contract.amount),
            "start_date": contract.start_date.isoformat(), "end_date": contract.end_date.isoformat(),
            "payment_method": contract.payment_method,
            "renewal_of": contract.renewal_of.number if contract.renewal_of_id else ""}


@transaction.atomic
def contract_create(*, actor, customer: Customer, number: Any, amount: Any, start_date: Any, end_date: Any,
                    payment_method: str = PaymentMethod.TRANSFER, status: str = ContractStatus.ACTIVE,
                    opportunity: Opportunity | None = None, owner: Any = None, signed_at: Any = None,
                    title: str = "", notes: str = "", renewal_of: Contract | None = None,
                    via: str = "web") -> Contract:
    """Register a contract (number, customer, amount, payment method, term); record contract.signed; return it."""
    capability_check(actor, "contract.change", _("You may not register contracts."))
    _check_customer(actor, customer)
    if opportunity is not None and opportunity.customer_id != customer.pk:
        raise DomainError(_("The opportunity is of another customer."), code=PipelineCode.OPPORTUNITY_OF_OTHER_CUSTOMER, field="opportunity")
    contract = Contract(customer=customer, opportunity=opportunity, renewal_of=renewal_of,
                        created_by=_actor_user(actor))
    contract.number = _contract_number(number)
    _contract_apply(contract, {"title": title, "amount": amount, "payment_method": payment_method,
                               "start_date": start_date, "end_date": end_date, "signed_at": signed_at,
                               "notes": notes, "status": status})
    if contract.status == ContractStatus.ACTIVE and contract.signed_at is None:
        contract.signed_at = timezone.localdate()
    contract.owner = _owner(actor, owner, customer, "contract.change")
    full_clean_or_raise(contract)
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        raise DomainError(_("Contract number %(number)s exists already.") % {"number": contract.number},
                          code=PipelineCode.CONTRACT_NO_TAKEN, field="number")
    audit_record(actor=actor, action="contract.create", obj=contract, via=via,
                 changes={k: [None, v] for k, v in _contract_snapshot(contract).items() if v not in (None, "")})
    record_event(customer=customer, type="contract.renewed" if renewal_of else "contract.signed", actor=actor,
                 payload=contract_event_payload(contract))
    return contract


@transaction.atomic(durable=True)
def contract_update(*, actor, contract: Contract, data: dict[str, Any], via: str = "web") -> Contract:
    """Change some fields of a contract (a manager may give it to another owner); return it."""
    contract = _visible(actor, Contract, contract, "contract.change", _("You may not change contracts."))
    unknown = sorted(set(data) - set(CONTRACT_FIELDS) - {"number"})
    if unknown:
        raise DomainError(_("Unknown field: %(field)s") % {"field": unknown[0]}, code=PipelineCode.UNKNOWN_FIELD,
                          field=unknown[0])
    if contract.status in (ContractStatus.TERMINATED, ContractStatus.RENEWED):
        raise DomainError(_("A terminated or renewed contract cannot change."), code=PipelineCode.CLOSED, field="status")
    before = _contract_snapshot(contract)
    if "number" in data:
        contract.number = _contract_number(data["number"], exclude=contract.pk)
    _contract_apply(contract, data)
    if "owner" in data:
        contract.owner = _owner(actor, data["owner"], contract.customer, "contract.change", current=contract.owner)
    full_clean_or_raise(contract)
    after = _contract_snapshot(contract)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if "end_date" in changes:
        contract.expiry_reminded_at = None  # a new end date gets its own reminder
    if changes:
        contract.save()
        audit_record(actor=actor, action="contract.update", obj=contract, via=via, changes=changes)
    return contract


@transaction.atomic
def contract_renew(*, actor, contract: Contract, number: Any, amount: Any = None, start_date: Any = None,
                   end_date: Any = None, payment_method: str | None = None, notes: str = "",
                   via: str = "web") -> Contract:
    """Create the next contract of a renewal (by default the same amount and length, starting the day after the
    end) linked to the old one, and mark the old one renewed; return the new contract."""
    old = _visible(actor, Contract, contract, "contract.change", _("You may not change contracts."))
    if old.status not in (ContractStatus.ACTIVE, ContractStatus.EXPIRED):
        raise DomainError(_("Only an active or expired contract can be renewed."), code=PipelineCode.CLOSED, field="status")
    start = parse_date(start_date, field="start_date") or old.end_date + timedelta(days=1)
    end = parse_date(end_date, field="end_date") or start + (old.end_date - old.start_date)
    new = contract_create(actor=actor, customer=old.customer, number=number,
                          amount=old.amount if amount in (None, "") else amount, start_date=start, end_date=end,
                          payment_method=payment_method or old.payment_method, opportunity=old.opportunity,
                          owner=old.owner, title=old.title, notes=notes, renewal_of=old, via=via)
    status_before = old.status
    old.status = ContractStatus.RENEWED
    old.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="contract.renew", obj=old, via=via,
                 changes={"status": [status_before, old.status], "renewal": [None, new.number]})
    return new


@transaction.atomic
def contract_terminate(*, actor, contract: Contract, reason: str, via: str = "web") -> Contract:
    """End a contract before its term, saying why; record contract.terminated; return it."""
    contract = _visible(actor, Contract, contract, "contract.change", _("You may not change contracts."))
    reason = text_clean(reason, field="reason", max_length=300, required=True)
    if contract.status in (ContractStatus.TERMINATED, ContractStatus.RENEWED):
        raise DomainError(_("This contract is already closed."), code=PipelineCode.CLOSED, field="status")
    before = contract.status
    contract.status = ContractStatus.TERMINATED
    contract.terminated_at = timezone.now()
    contract.notes = (contract.notes + "\n" if contract.notes else "") + reason
    contract.save(update_fields=["status", "terminated_at", "notes", "updated_at"])
    audit_record(actor=actor, action="contract.terminate", obj=contract, via=via,
                 changes={"status": [before, contract.status], "reason": [None, reason]})
    record_event(customer=contract.customer, type="contract.terminated", actor=actor,
                 payload={"contract": contract.public_id, "number": contract.number, "reason": reason})
    return contract


# --- expiry -------------------------------------------------------------------------------------------------------


def reminder_days() -> int:
    """Return how many days before its end a contract's owner gets a to-do (setting FIDELIS_CONTRACT_REMINDER_DAYS)."""
    return int(getattr(settings, "FIDELIS_CONTRACT_REMINDER_DAYS", 30))


def contract_expiry_reminders(*, today: date | None = None, days: int | None = None) -> dict[str, int]:
    """Announce each active contract ending within `days` once (a `contract.expiring` event, which `work` turns
    into a to-do for the owner); mark ended ones expired."""
    today = today or timezone.localdate()
    days = reminder_days() if days is None else days
    due_ids = list(Contract.objects.filter(status=ContractStatus.ACTIVE, expiry_reminded_at__isnull=True,
                                           end_date__gte=today, end_date__lte=today + timedelta(days=days))
                   .values_list("pk", flat=True))
    created = 0
    for pk in due_ids:
        with transaction.atomic(durable=True):
            # Lock and look again: two workers running the beat task at once must announce it once, not twice.
            contract = (Contract.objects.select_for_update(of=("self",)).select_related("customer", "owner")
                        .filter(pk=pk, expiry_reminded_at__isnull=True, status=ContractStatus.ACTIVE).first())
            if contract is None:
                continue
            record_event(customer=contract.customer, type="contract.expiring",
                         payload={"contract": contract.public_id, "number": contract.number,
                                  "end_date": contract.end_date.isoformat(), "amount": str(contract.amount),
                                  "owner": contract.owner_id},
                         idempotency_key=f"contract:{contract.public_id}:expiring:{contract.end_date}")
            contract.expiry_reminded_at = timezone.now()
            contract.save(update_fields=["expiry_reminded_at", "updated_at"])
            created += 1
    expired = 0
    with transaction.atomic(durable=True):
        ended = list(Contract.objects.select_for_update().filter(status=ContractStatus.ACTIVE, end_date__lt=today))
        for contract in ended:
            contract.status = ContractStatus.EXPIRED
            contract.save(update_fields=["status", "updated_at"])
            audit_record(actor=None, action="contract.expire", obj=contract, via="system",
                         changes={"status": [ContractStatus.ACTIVE, ContractStatus.EXPIRED]})
            expired += 1
    return {"reminders": created, "expired": expired}

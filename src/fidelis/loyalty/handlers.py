"""How the loyalty program reacts to events: every event of a type the program takes goes through the engine.

The events a worker takes from the queue are applied in the order they were recorded, each run of events of one
type as one batch per program (`apply.job.Job.apply`; one event is a batch of one): member.joined enrols, order.paid
makes a purchase, order.refunded takes points back, and the rules of that trigger give points, coupons, tags and
tiers. Every (program, event) is applied once: its AppliedEvent row is written in the transaction of its effects,
so that a worker that dies half-way and a redelivered task (Celery acks late) give exactly one effect.
"""

import time
from itertools import groupby
from operator import itemgetter

from django.db.models.fields.json import KT
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from fidelis.core.errors import DomainError
from fidelis.events.models import Event
from fidelis.events.registry import on_event, validates
from fidelis.loyalty.apply.evaluator import (
    BUILT_IN,
    ORDER_PAID,
    ORDER_REFUNDED,
    OWN_TYPES,
    PROGRAM_EVENT_TYPES,
    order_amount,
    order_ref,
)
from fidelis.loyalty.apply.job import Job
from fidelis.loyalty.apply.refunds import refunds_waiting
from fidelis.loyalty.errors import LoyaltyCode
from fidelis.loyalty.models import Program, Rule, Tier


@validates(ORDER_PAID, ORDER_REFUNDED)
def validate_order_payload(event_type: str, payload: dict) -> None:
    """Refuse order events the program could not count: a bad amount, a refund without its order."""
    if order_amount(payload) is None:
        raise DomainError(_("An order event needs payload.amount."),
                          code=LoyaltyCode.REQUIRED, field="payload.amount")
    if "categories" in payload and not isinstance(payload["categories"], list):
        raise DomainError(_("payload.categories is a list."),
                          code=LoyaltyCode.NOT_A_LIST, field="payload.categories")
    if event_type == ORDER_REFUNDED and not order_ref(payload):
        raise DomainError(_("Name the refunded order: payload.order_no."),
                          code=LoyaltyCode.REQUIRED, field="payload.order_no")


@on_event("*", exclude=OWN_TYPES, batch=True)
def loyalty_on_events(event_ids: list[int]) -> None:
    apply_events(event_ids)


# The engine's jobs of the active programs, per event type, made once and kept for CACHE_SECONDS: every event needs
# them, and rules and tiers change a few times a year. A save or delete in this process clears them at once; other
# processes (the workers) see a change within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, list[Job]]] = {}


def programs_cache_clear() -> None:
    _cache.clear()


@receiver([post_save, post_delete], sender=Program)
@receiver([post_save, post_delete], sender=Rule)
@receiver([post_save, post_delete], sender=Tier)
def _programs_changed(sender, **kwargs) -> None:
    programs_cache_clear()


def jobs_for(event_type: str) -> list[Job]:
    """Return the engine's jobs of the active programs that take events of this type."""
    cached = _cache.get(event_type)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    jobs = [job for program in Program.objects.filter(is_active=True).order_by("pk")
            if (job := Job(program, event_type)).rules or event_type in BUILT_IN]
    _cache[event_type] = (time.monotonic(), jobs)
    return jobs


def apply_events(event_ids: list[int], *, program: Program | None = None) -> int:
    """Apply events in the order they were recorded, each run of one type at once, to every active program (or to
    `program` only); return the points they gave."""
    rows = (Event.objects.filter(pk__in=event_ids).exclude(type__in=OWN_TYPES).order_by("pk")
            .annotate(program=KT("payload__program")).values_list("pk", "type", "customer_id", "program"))
    points = 0
    for event_type, run in groupby(rows, key=itemgetter(1)):
        run = list(run)
        for job in jobs_for(event_type):
            if program is not None and job.program.pk != program.pk:
                continue
            # An event that names its program counts for that program only.
            mine = [row for row in run if event_type not in PROGRAM_EVENT_TYPES or row[3] in (None, "")
                    or row[3] == job.program.public_id]
            if not mine:
                continue
            customers = {row[2] for row in mine}
            points += job.apply([row[0] for row in mine], customers).points
            if event_type == ORDER_PAID:
                refunds_waiting_apply(job.program, customers)
    return points


def apply_event(event_id: int, *, program: Program | None = None) -> int:
    """Apply one event (a batch of one) to every active program, or to `program` only; return the points it gave."""
    return apply_events([event_id], program=program)


def refunds_waiting_apply(program: Program, customer_ids: set[int]) -> None:
    """Apply the refunds of these customers that waited for their purchase (the purchase may be in now)."""
    waiting = refunds_waiting(program, customer_ids)
    if waiting:
        apply_events(waiting, program=program)

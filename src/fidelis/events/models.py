"""The customer event stream: every interaction, written once, read as the timeline."""

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelis.core.models import PublicIdModel, new_public_id
from fidelis.events.errors import EventCode
from fidelis.events.lines import event_line


class EventType(models.TextChoices):
    """Event types the platform knows by name; other dotted names are accepted too."""

    CUSTOMER_CREATED = "customer.created", _("Customer created")
    CUSTOMER_UPDATED = "customer.updated", _("Profile changed")
    CUSTOMER_MERGED = "customer.merged", _("Records merged")
    CUSTOMER_ERASED = "customer.erased", _("Personal data erased")
    CONSENT_GRANTED = "consent.granted", _("Consent given")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Consent withdrawn")
    TAG_ADDED = "tag.added", _("Tag added")
    TAG_REMOVED = "tag.removed", _("Tag removed")
    ORDER_PAID = "order.paid", _("Purchase")
    ORDER_REFUNDED = "order.refunded", _("Refund")
    STORE_VISITED = "store.visited", _("Store visit")
    CALL_LOGGED = "call.logged", _("Phone call")
    EMAIL_LOGGED = "email.logged", _("E-mail")
    MESSAGE_SENT = "message.sent", _("Message sent")
    MEMBER_JOINED = "member.joined", _("Joined the member club")
    WECHAT_FOLLOWED = "wechat.followed", _("Followed the official account")
    COMPLAINT_FILED = "complaint.filed", _("Complaint")
    SURVEY_ANSWERED = "survey.answered", _("Survey answered")
    POINTS_CHANGED = "points.changed", _("Points change")
    NOTE_ADDED = "note.added", _("Note")
    TASK_CREATED = "task.created", _("Task created")
    TASK_DONE = "task.done", _("Task done")
    TASK_REOPENED = "task.reopened", _("Task reopened")
    TASK_CANCELLED = "task.cancelled", _("Task cancelled")


# Types that are no rule triggers, named here for the timeline and the home page: those the platform records itself
# (the member club's own events never feed its rules; the sales pipeline's are the timeline's) and a mail system's
# bounce report, which the clean-up list reads.
OWN_EVENT_LABELS = {
    "email.bounced": _("E-mail bounced"),
    "points.expiring": _("Points about to expire"),
    "tier.changed": _("Tier change"),
    "coupon.issued": _("Coupon issued"),
    "coupon.redeemed": _("Coupon redeemed"),
    "coupon.reversed": _("Coupon given back"),
    "opportunity.created": _("Opportunity recorded"),
    "opportunity.stage_changed": _("Opportunity moved"),
    "opportunity.reassigned": _("Opportunity reassigned"),
    "opportunity.won": _("Opportunity won"),
    "opportunity.lost": _("Opportunity lost"),
    "contract.signed": _("Contract signed"),
    "contract.renewed": _("Contract renewed"),
    "contract.expiring": _("Contract about to end"),
    "contract.terminated": _("Contract terminated"),
}

# The label of every event type the platform knows by name (triggers and its own), lazily translated.
EVENT_TYPE_LABELS = {**dict(EventType.choices), **OWN_EVENT_LABELS}


class Channel(models.TextChoices):
    STORE = "store", _("Store")
    ONLINE = "online", _("Online shop")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WEB = "web", _("Web")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    SYSTEM = "system", _("System")


# What staff log of a conversation with a customer (work.services.interaction_log): the types, and the outcome
# kept in the event's payload.
INTERACTION_TYPES = (EventType.CALL_LOGGED, EventType.STORE_VISITED, EventType.MESSAGE_SENT, EventType.EMAIL_LOGGED,
                     EventType.NOTE_ADDED)


class InteractionOutcome(models.TextChoices):
    REACHED = "reached", _("Talked to them")
    NO_ANSWER = "no_answer", _("No answer")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")
    RESOLVED = "resolved", _("Resolved")
    FOLLOW_UP = "follow_up", _("Needs a follow-up")


class Event(models.Model):
    # Unique by a constraint (see Meta), not unique=True: that would add a LIKE index on PostgreSQL.
    public_id = models.CharField(_("public id"), max_length=16, default=new_public_id, editable=False)
    # Its own index as well as the timeline's: the loyalty back-fill reads the events of a range of customers in
    # customer and time order, which the timeline index (newest first) does not give; without it the back-fill
    # measured a third slower.
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="events",
                                 verbose_name=_("customer"))
    type = models.CharField(_("type"), max_length=40)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=16, default=Channel.SYSTEM)
    touchpoint = models.CharField(_("touchpoint"), max_length=80, blank=True)
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("recorded by"), db_index=False)  # event_actor_idx
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        # Every event writes each of these: the public id and the idempotency key are only ever looked up whole,
        # so they carry their unique index and no LIKE index (PostgreSQL). Most events (the ledger's timeline
        # entries, the rules' own) have no idempotency key and no actor: those indexes hold only the rows that do.
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="event_public_id_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="event_idempotency_unique",
                                    condition=models.Q(idempotency_key__isnull=False)),
        ]
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="event_timeline_idx"),
            models.Index(fields=["-occurred_at", "-id"], name="event_recent_idx"),
            models.Index(fields=["type"], name="event_type_idx"),
            models.Index(fields=["actor"], name="event_actor_idx", condition=models.Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def channel_label(self) -> str:
        try:
            return Channel(self.channel).label
        except ValueError:
            return self.channel

    @property
    def type_label(self) -> str:
        """The name of the type in the viewer's language (the `event_type` template filter gives the same)."""
        return EVENT_TYPE_LABELS.get(self.type, self.type)

    @property
    def line(self) -> str:
        """The event as a sentence in the viewer's language, made from its payload (`events.lines`)."""
        return event_line(self)


class PendingDispatch(models.Model):
    """An event whose handlers have not run yet.

    `record_event` writes it in the transaction of the event; the dispatcher deletes it in the transaction in which
    the handlers run, so an event is handed to its handlers once even when a worker dies half-way (its transaction
    is rolled back and the row is there again for the next one).
    """

    event = models.OneToOneField(Event, on_delete=models.CASCADE, primary_key=True, related_name="+",
                                 verbose_name=_("event"))
    type = models.CharField(_("type"), max_length=40)
    historical = models.BooleanField(_("historical"), default=False, db_default=False,
                                     help_text=_("Recorded as history: only handlers that take history run."))

    class Meta:
        verbose_name = _("event to dispatch")
        verbose_name_plural = _("events to dispatch")

    def __str__(self) -> str:
        return f"{self.type} #{self.event_id}"


# What a webhook subscription may name: a dotted event type, as `record_event` accepts them.
EVENT_TYPE_PATTERN = re.compile(r"[\w-]+(\.[\w-]+)+")


def new_webhook_secret() -> str:
    """Return a fresh signing secret for a webhook endpoint (256 random bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(PublicIdModel):
    """An outside system that receives events as signed HTTP POSTs."""

    name = models.CharField(_("name"), max_length=80)
    url = models.URLField(_("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])],
                          help_text=_("Fidelis POSTs each event here as JSON."))
    secret = models.CharField(_("signing secret"), max_length=64, default=new_webhook_secret, editable=False)
    event_types = models.JSONField(_("event types"), default=list,
                                   help_text=_("The event types sent to this endpoint; \"*\" sends all of them."))
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("An inactive endpoint receives nothing; its deliveries wait."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        types = self.event_types
        if not isinstance(types, list) or not types:
            raise ValidationError({"event_types": _("Choose at least one event type.")}, code=EventCode.REQUIRED)
        for value in types:
            if not isinstance(value, str) or not (value == "*" or EVENT_TYPE_PATTERN.fullmatch(value)):
                raise ValidationError({"event_types": _("“%(value)s” is not an event type.") % {"value": value}},
                                      code=EventCode.INVALID)

    def subscribes_to(self, event_type: str) -> bool:
        """Return whether events of this type go to this endpoint."""
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(PublicIdModel):
    """One event for one endpoint: the outbox row that is sent, and retried until delivered or given up."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 verbose_name=_("endpoint"))
    # Empty for the test events a manager sends by hand.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("event"))
    event_type = models.CharField(_("event type"), max_length=40)
    body = models.JSONField(_("body"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once_per_event"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values),
                                   name="webhook_delivery_status_valid"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status=DeliveryStatus.PENDING),
                         name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"

"""The customer event stream: every interaction, written once, read as the timeline."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelis.core.models import new_public_id


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


class Event(models.Model):
    public_id = models.CharField(_("public id"), max_length=16, unique=True, default=new_public_id, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="events",
                                 verbose_name=_("customer"))
    type = models.CharField(_("type"), max_length=40, db_index=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=16, default=Channel.SYSTEM)
    touchpoint = models.CharField(_("touchpoint"), max_length=80, blank=True)
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True, unique=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="event_timeline_idx"),
            models.Index(fields=["-occurred_at", "-id"], name="event_recent_idx"),
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
        try:
            return EventType(self.type).label
        except ValueError:
            return self.type

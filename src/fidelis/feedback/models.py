"""The voice of the customer (客户之声). First the touchpoint catalogue (接触点): the places where customers meet the
mall, grouped by the stage of the customer journey, each with the team that answers for it. Surveys, answers and
the closed loop refer to these touchpoints, and so will service cases ("moments of truth")."""

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from fidelis.core.models import PublicIdModel
from fidelis.events.models import Channel


class JourneyStage(models.TextChoices):
    """The stages of the customer journey (客户旅程), in the order a customer goes through them."""

    AWARENESS = "awareness", _("Awareness")
    CONSIDERATION = "consideration", _("Consideration")
    PURCHASE = "purchase", _("Purchase")
    USE = "use", _("Use")
    SERVICE = "service", _("After-sales service")
    LOYALTY = "loyalty", _("Loyalty and referral")


def journey_order():
    """Return an expression giving each stage its rank in the journey (0 = awareness), to order by."""
    return Case(*[When(stage=value, then=Value(rank)) for rank, value in enumerate(JourneyStage.values)],
                default=Value(len(JourneyStage.values)), output_field=models.IntegerField())


class TouchpointQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Touchpoint(PublicIdModel):
    """One place where customers meet the mall (商场入口, 收银台, 客服热线 …), at one stage of the journey.

    Touchpoints are deactivated, never deleted: surveys, answers and service cases will point at them.
    """

    name = models.CharField(_("name"), max_length=80,
                            help_text=_("Unique among the active touchpoints, whatever the case of the letters."))
    stage = models.CharField(_("journey stage"), max_length=20, choices=JourneyStage.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True,
                               help_text=_("Where it happens: in the store, online, WeChat, by phone … (optional)."))
    # There is no team model yet: the team is a name (收银组, 客服中心) until one comes.
    owner_team = models.CharField(_("owner team"), max_length=60,
                                  help_text=_("The team that answers for this touchpoint, e.g. 收银组 or 客服中心."))
    description = models.TextField(_("description"), max_length=1000, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0,
                                                help_text=_("Its place within the stage (smaller first)."))
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("An inactive touchpoint stays in the catalogue, greyed out."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))

    objects = TouchpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = [journey_order(), "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stage__in=JourneyStage.values), name="touchpoint_stage_valid"),
            models.CheckConstraint(condition=Q(channel="") | Q(channel__in=Channel.values),
                                   name="touchpoint_channel_valid"),
            # Two active touchpoints "收银台" and "收银台 " (or "APP" and "app") would split the answers of one
            # place; an inactive one may keep an old name.
            models.UniqueConstraint(Lower("name"), condition=Q(is_active=True), name="touchpoint_name_unique_active"),
        ]

    def __str__(self) -> str:
        return self.name

"""The sales pipeline: pipelines and their stages, opportunities moving through them, and contracts.

An opportunity won becomes an order of `fidelis.sales`; a contract is the agreement signed with the customer. The
tables keep the names they had when these models lived in the sales app (`db_table`).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fidelis.core.models import PublicIdModel, TimeStampedModel
from fidelis.sales.models import MONEY, Order, PaymentMethod, Product


class Pipeline(TimeStampedModel):
    """A sales process: an ordered set of stages an opportunity moves through until it is won or lost."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(_("default"), default=False,
                                     help_text=_("New opportunities go into the default pipeline."))

    class Meta:
        db_table = "sales_pipeline"  # the table of the sales app it came from
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="sales_pipeline_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


# Fields a stage may require before an opportunity enters it.
REQUIRABLE_FIELDS = ("expected_amount", "expected_close_date", "products")


class Stage(models.Model):
    """One column of the board: its order, default win probability and kind (open, won or lost)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages",
                                 verbose_name=_("pipeline"))
    name = models.CharField(_("name"), max_length=40)
    order = models.PositiveSmallIntegerField(pgettext_lazy("sort order", "order"))
    probability = models.PositiveSmallIntegerField(_("probability %"),
                                                   help_text=_("The default chance of winning in this stage."))
    kind = models.CharField(_("kind"), max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    required_fields = models.JSONField(_("required fields"), default=list, blank=True,
                                       help_text=_("Fields that must be filled before an opportunity enters it."))

    class Meta:
        db_table = "sales_stage"  # the table of the sales app it came from
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="sales_stage_name_unique"),
            models.UniqueConstraint(fields=["pipeline", "order"], name="sales_stage_order_unique"),
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=100),
                                   name="sales_stage_probability_range"),
            models.CheckConstraint(condition=Q(kind__in=StageKind.values), name="sales_stage_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class OpportunitySource(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    REFERRAL = "referral", _("Referral")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone")
    EVENT = "event", _("Event")
    WEBSITE = "website", _("Website")
    OTHER = "other", _("Other")


class LostReason(models.TextChoices):
    PRICE = "price", _("Price too high")
    COMPETITOR = "competitor", _("Went to a competitor")
    NO_BUDGET = "no_budget", _("No budget")
    NO_DECISION = "no_decision", _("No decision")
    TIMING = "timing", _("Bad timing")
    PRODUCT = "product", _("Product does not fit")
    OTHER = "other", _("Other")


class Opportunity(PublicIdModel):
    """A chance to sell to a customer, followed through the stages until it is won (order, contract) or lost."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="opportunities",
                                 verbose_name=_("customer"))
    title = models.CharField(_("title"), max_length=120)
    source = models.CharField(_("source"), max_length=10, choices=OpportunitySource.choices,
                              default=OpportunitySource.WALK_IN)
    expected_amount = models.DecimalField(_("expected amount"), **MONEY, null=True, blank=True,
                                          help_text=_("In CNY."))
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities",
                              verbose_name=_("stage"))
    # The kind of the stage, kept here so that the board and the reports filter without a join.
    status = models.CharField(_("status"), max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(_("probability %"),
                                                   help_text=_("Defaults to the stage's probability."))
    products = models.ManyToManyField(Product, blank=True, related_name="opportunities",
                                      verbose_name=_("products"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities",
                              verbose_name=_("owner"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    stage_changed_at = models.DateTimeField(_("stage changed at"), default=timezone.now)
    won_at = models.DateTimeField(_("won at"), null=True, blank=True)
    lost_at = models.DateTimeField(_("lost at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cycle_days = models.PositiveIntegerField(_("days to close"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=12, choices=LostReason.choices, blank=True)
    lost_note = models.CharField(_("lost note"), max_length=300, blank=True)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities",
                              verbose_name=_("order"))
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        db_table = "sales_opportunity"  # the table of the sales app it came from
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=100),
                                   name="sales_opportunity_probability_range"),
            models.CheckConstraint(condition=Q(expected_amount__isnull=True) | Q(expected_amount__gte=0),
                                   name="sales_opportunity_amount_not_negative"),
            models.CheckConstraint(condition=Q(status__in=StageKind.values), name="sales_opportunity_status_valid"),
            models.CheckConstraint(condition=Q(source__in=OpportunitySource.values),
                                   name="sales_opportunity_source_valid"),
        ]
        indexes = [
            models.Index(fields=["stage", "owner"], name="sales_opp_board_idx"),
            models.Index(fields=["owner", "status", "expected_close_date"], name="sales_opp_owner_idx"),
            models.Index(fields=["status", "expected_close_date"], name="sales_opp_forecast_idx"),
            models.Index(fields=["status", "closed_at"], name="sales_opp_closed_idx"),
            models.Index(fields=["customer", "-created_at"], name="sales_opp_customer_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("pipeline:opportunity_detail", kwargs={"public_id": self.public_id})

    @property
    def weighted_amount(self):
        """Return the expected amount times the probability."""
        return (self.expected_amount or 0) * self.probability / 100


class OpportunityStageChange(models.Model):
    """One move of an opportunity from a stage to another: the history the average cycle is read from."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes",
                                    verbose_name=_("opportunity"))
    from_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("from stage"))
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("to stage"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("by"))
    changed_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        db_table = "sales_opportunitystagechange"  # the table of the sales app it came from
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["opportunity", "changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", pgettext_lazy("contract", "Active")
    EXPIRED = "expired", pgettext_lazy("contract", "Expired")
    TERMINATED = "terminated", _("Terminated")
    RENEWED = "renewed", _("Renewed")


class Contract(PublicIdModel):
    """A signed agreement with a customer: number, amount, payment method, term and status."""

    number = models.CharField(_("contract number"), max_length=40, unique=True,
                              error_messages={"unique": _("This contract number exists already.")})
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="contracts",
                                 verbose_name=_("customer"))
    opportunity = models.ForeignKey(Opportunity, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="contracts", verbose_name=_("opportunity"))
    title = models.CharField(_("title"), max_length=120, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, help_text=_("In CNY."))
    payment_method = models.CharField(_("payment method"), max_length=12, choices=PaymentMethod.choices,
                                      default=PaymentMethod.TRANSFER)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    status = models.CharField(_("status"), max_length=10, choices=ContractStatus.choices,
                              default=ContractStatus.ACTIVE)
    renewal_of = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="renewal", verbose_name=_("renewal of"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts",
                              verbose_name=_("owner"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    signed_at = models.DateField(_("signed on"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("terminated at"), null=True, blank=True)
    expiry_reminded_at = models.DateTimeField(_("expiry reminder at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        db_table = "sales_contract"  # the table of the sales app it came from
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="sales_contract_amount_not_negative"),
            models.CheckConstraint(condition=Q(end_date__gte=F("start_date")), name="sales_contract_end_after_start",
                                   violation_error_message=_("The end date is before the start date.")),
            models.CheckConstraint(condition=Q(status__in=ContractStatus.values), name="sales_contract_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "end_date"], name="sales_contract_expiry_idx"),
            models.Index(fields=["owner", "status"], name="sales_contract_owner_idx"),
            models.Index(fields=["customer", "-start_date"], name="sales_contract_customer_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("pipeline:contract_detail", kwargs={"public_id": self.public_id})

"""Tasks and reminders (待办): to-dos and follow-ups with a due time, an owner and a customer, and the
follow-up rules (回访) that open them after a purchase."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fidelis.core.models import PublicIdModel


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", pgettext_lazy("task", "Cancelled")


class TaskPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")


class TaskSource(models.TextChoices):
    MANUAL = "manual", _("Entered by hand")
    FOLLOW_UP = "follow_up", _("Follow-up rule")


class FollowUpTrigger(models.TextChoices):
    ORDER_PAID = "order.paid", _("Purchase")


class FollowUpRule(PublicIdModel):
    """回访: after an event such as a purchase, a task for someone to call the customer some days later."""

    name = models.CharField(_("name"), max_length=80)
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("An inactive rule creates no tasks."))
    trigger = models.CharField(_("trigger"), max_length=40, choices=FollowUpTrigger.choices,
                               default=FollowUpTrigger.ORDER_PAID)
    delay_days = models.PositiveSmallIntegerField(
        _("days after"), default=7, validators=[MaxValueValidator(365)],
        help_text=_("The task is due this many days after the purchase."))
    due_time = models.TimeField(_("due time"), default="10:00",
                                help_text=_("Time of day the task is due, in the mall's time zone."))
    store = models.CharField(_("store"), max_length=80, blank=True,
                             help_text=_("Only purchases in this store (empty: every store)."))
    min_amount = models.DecimalField(_("minimum amount"), max_digits=12, decimal_places=2, null=True, blank=True,
                                     validators=[MinValueValidator(0)],
                                     help_text=_("Only purchases of at least this amount, in CNY (empty: any)."))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("otherwise assign to"),
                                 help_text=_("The task goes to the customer's owner; to this user when the "
                                             "customer has none."))
    title_template = models.CharField(
        _("task title"), max_length=200, default="回访 {customer}：{order_no}",
        help_text=_("May use {customer}, {order_no}, {amount} and {store}."))
    priority = models.PositiveSmallIntegerField(_("priority"), choices=TaskPriority.choices,
                                                default=TaskPriority.NORMAL)
    remind_before = models.PositiveIntegerField(_("remind minutes before"), null=True, blank=True,
                                                help_text=_("Empty: no reminder."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")
        ordering = ["-is_active", "name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(trigger__in=FollowUpTrigger.values), name="followup_trigger_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class TaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=TaskStatus.OPEN)


class Task(PublicIdModel):
    """One to-do of one user, optionally about a customer and another object (opportunity, contract, case…)."""

    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    due_at = models.DateTimeField(_("due at"))
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True,
                                     help_text=_("When the owner gets a reminder by e-mail (empty: none)."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks",
                              verbose_name=_("owner"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="tasks", verbose_name=_("customer"))
    # Anything else the task is about (an opportunity, a contract, a service case), however it is defined.
    related_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="+", verbose_name=_("related object type"))
    related_id = models.CharField(_("related object id"), max_length=40, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=TaskPriority.choices,
                                                default=TaskPriority.NORMAL)
    status = models.CharField(_("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    recurrence_days = models.PositiveSmallIntegerField(
        _("repeat every (days)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("When the task is done, the next one is due this many days later (empty: once)."))
    previous = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="next_task", verbose_name=_("follows"))
    source = models.CharField(_("source"), max_length=10, choices=TaskSource.choices, default=TaskSource.MANUAL)
    rule = models.ForeignKey(FollowUpRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks",
                             verbose_name=_("follow-up rule"))
    source_event = models.ForeignKey("events.Event", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("triggering event"))
    source_order_no = models.CharField(_("order number"), max_length=64, blank=True, default="",
                                       help_text=_("The purchase a follow-up rule opened the task for."))
    # Reminder delivery: sent once (reminded_at); a refused send is tried again at remind_retry_at.
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    remind_attempts = models.PositiveSmallIntegerField(_("reminder attempts"), default=0)
    remind_retry_at = models.DateTimeField(_("next reminder attempt"), null=True, blank=True)
    remind_error = models.CharField(_("reminder error"), max_length=300, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True, unique=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(remind_at__isnull=True) | Q(remind_at__lte=F("due_at")),
                                   name="task_remind_not_after_due"),
            models.CheckConstraint(condition=Q(status=TaskStatus.DONE, done_at__isnull=False)
                                   | (~Q(status=TaskStatus.DONE) & Q(done_at__isnull=True)),
                                   name="task_done_at_iff_done"),
            # A follow-up rule opens one task per event, however often the event is handled.
            models.UniqueConstraint(fields=["rule", "source_event"], name="task_once_per_rule_event"),
            # ... and one per purchase: a till that re-sends an order under a new idempotency key makes a second
            # event of the same order, not a second follow-up.
            models.UniqueConstraint(fields=["rule", "customer", "source_order_no"],
                                    condition=Q(rule__isnull=False) & ~Q(source_order_no=""),
                                    name="task_once_per_rule_order"),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="task_my_day_idx"),
            models.Index(fields=["status", "remind_at", "reminded_at"], name="task_reminder_due_idx"),
            models.Index(fields=["customer", "status", "due_at"], name="task_customer_idx"),
            models.Index(fields=["created_by", "status", "due_at"], name="task_created_by_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("work:task_detail", kwargs={"public_id": self.public_id})

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < timezone.now()

    @property
    def related_object(self):
        """Return the linked object, or None when there is none or it is gone."""
        if self.related_type_id is None or not self.related_id:
            return None
        try:
            return self.related
        except (ValueError, TypeError):
            return None

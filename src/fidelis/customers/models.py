"""The customer archive: customers (people and companies), contacts, tags, consent, duplicates, merges."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fidelis.core.imports import ImportMode, ImportStatus
from fidelis.core.models import PublicIdModel, TimeStampedModel, new_public_id


class CustomerKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    COMPANY = "company", _("Company")


class Gender(models.TextChoices):
    UNKNOWN = "", _("Not stated")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class Category(models.TextChoices):
    POTENTIAL = "potential", _("Potential")
    BASIC = "basic", _("Basic")
    KEY = "key", _("Key")


class ValueTier(models.TextChoices):
    HIGH = "high", _("High value")
    MEDIUM = "medium", _("Medium value")
    LOW = "low", _("Low value")


class LifecycleStage(models.TextChoices):
    """The loyalty funnel of the seeds: interested → follower → member → buyer → loyal member → advocate."""

    INTERESTED = "interested", _("Interested")
    FOLLOWER = "follower", _("Follower")
    MEMBER = "member", _("Member")
    BUYER = "buyer", _("Buyer")
    LOYAL = "loyal", _("Loyal member")
    ADVOCATE = "advocate", _("Advocate")


class CompanySize(models.TextChoices):
    UNKNOWN = "", _("Not stated")
    MICRO = "micro", _("1–9 staff")
    SMALL = "small", _("10–99 staff")
    MEDIUM = "medium", _("100–999 staff")
    LARGE = "large", _("1000+ staff")


class CustomerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(merged_into__isnull=True)


class Customer(PublicIdModel):
    public_id = models.CharField(_("public id"), max_length=16, default=new_public_id, editable=False)
    number = models.CharField(_("customer number"), max_length=20, unique=True,
                              help_text=_("Unique; given automatically when left empty."))
    kind = models.CharField(_("type"), max_length=12, choices=CustomerKind.choices, default=CustomerKind.INDIVIDUAL)
    name = models.CharField(_("name"), max_length=100)
    name_pinyin = models.CharField(_("name in pinyin"), max_length=300, blank=True, editable=False)
    name_initials = models.CharField(_("pinyin initials"), max_length=100, blank=True, editable=False)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True,
                             help_text=_("Any common format; stored as +86…"))
    phone_alt = models.CharField(_("other phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    company_name = models.CharField(_("company"), max_length=120, blank=True,
                                    help_text=_("For a person, the employer; for a company, its registered name."))
    industry = models.CharField(_("industry"), max_length=60, blank=True)
    company_size = models.CharField(_("company size"), max_length=8, choices=CompanySize.choices, blank=True,
                                    default="")
    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    interests = models.CharField(_("interests"), max_length=200, blank=True)
    special_requests = models.TextField(_("special requests"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, default=Category.POTENTIAL)
    value_tier = models.CharField(_("value tier"), max_length=8, choices=ValueTier.choices, default=ValueTier.LOW)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=12, choices=LifecycleStage.choices,
                                       default=LifecycleStage.INTERESTED)
    source = models.CharField(_("source"), max_length=40, blank=True,
                              help_text=_("Where the record came from (store, game, import, …)."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="owned_customers", verbose_name=_("owner"), db_index=False)
    tags = models.ManyToManyField("Tag", through="CustomerTag", related_name="customers", blank=True,
                                  verbose_name=_("tags"))
    # Search keys, kept by the services: digits of the phones, and the same reversed for "ends with" searches.
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)
    phone_reversed = models.CharField(max_length=20, blank=True, editable=False)
    phone_alt_digits = models.CharField(max_length=20, blank=True, editable=False)
    email_normalized = models.CharField(max_length=254, blank=True, editable=False)
    company_key = models.CharField(max_length=120, blank=True, editable=False)
    merged_into = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                    verbose_name=_("merged into"))
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True,
                                       help_text=_("Set by the clean-up list: the record needs no more attention."))

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        # The search keys are indexed per database in migration 0003 (plain B-trees on SQLite,
        # varchar_pattern_ops on PostgreSQL), so each database carries only the index it can use.
        # SQLite rebuilds the table on most field changes and forgets them: a migration that alters a Customer
        # field must run 0003's `create` again (tests/customers/test_search_indexes.py checks they exist).
        # The public id is unique by a constraint rather than unique=True, which would add a LIKE index on
        # PostgreSQL (it is only ever looked up whole); the owner is indexed first in customer_owner_idx. Every
        # imported customer writes each index.
        constraints = [models.UniqueConstraint(fields=["public_id"], name="customer_public_id_unique")]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="customer_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    @property
    def is_company(self) -> bool:
        return self.kind == CustomerKind.COMPANY


class Contact(TimeStampedModel):
    """A person at a company customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts",
                                 verbose_name=_("company"))
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("job title"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name"]

    def __str__(self) -> str:
        return self.name


class Tag(TimeStampedModel):
    name = models.CharField(_("name"), max_length=40, unique=True)
    group = models.CharField(_("group"), max_length=40, blank=True,
                             help_text=_("Optional: what the tag describes, e.g. pet breed."))
    color = models.CharField(_("colour"), max_length=7, default="#5b6abf")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["group", "name"]

    def __str__(self) -> str:
        return f"{self.group}:{self.name}" if self.group else self.name


class CustomerTag(models.Model):
    # Each key is indexed first in one of the two indexes of Meta.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique")]
        indexes = [models.Index(fields=["tag", "customer"], name="customertag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Phone")


class Consent(models.Model):
    """The current consent of one customer for one channel; each change is also an event on the timeline."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents",
                                 verbose_name=_("customer"))
    channel = models.CharField(_("channel"), max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"), default=False)
    source = models.CharField(_("source"), max_length=80, blank=True,
                              help_text=_("Where the customer gave or withdrew consent."))
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["channel"]
        constraints = [models.UniqueConstraint(fields=["customer", "channel"], name="consent_unique_channel")]

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.channel}={self.granted}"


class CustomerNumberSequence(models.Model):
    """A counter for customer numbers, locked while a number is taken."""

    prefix = models.CharField(max_length=4, unique=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}{self.last_value}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("To review")
    MERGED = "merged", _("Merged")
    DISMISSED = "dismissed", _("Not a duplicate")


class DuplicateCandidate(TimeStampedModel):
    """A pair of customers that look like the same person or company."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer"),
                                 db_index=False)  # indexed first in duplicate_pair_unique
    other = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("possible duplicate"))
    reason = models.CharField(_("reason"), max_length=20)
    score = models.FloatField(_("similarity"), default=1.0)
    status = models.CharField(_("status"), max_length=10, choices=DuplicateStatus.choices,
                              default=DuplicateStatus.OPEN, db_index=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"))

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "other"], name="duplicate_pair_unique"),
            models.CheckConstraint(condition=Q(customer__lt=models.F("other")), name="duplicate_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}~{self.other_id} ({self.reason})"


class MergeRecord(models.Model):
    """What a merge did, kept for review: the absorbed record as it was, and what moved."""

    kept = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges", verbose_name=_("kept record"))
    absorbed = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("merged record"))
    snapshot = models.JSONField(_("merged record as it was"))
    moved = models.JSONField(_("what moved"), default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              verbose_name=_("merged by"))
    created_at = models.DateTimeField(_("merged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.kept_id}"


class UploadedImport(PublicIdModel):
    """What every import of a file keeps: the file's name, encoding and columns, the column mapping, the mode, the
    status and the check report (customers here, historical orders in the sales app)."""

    file_name = models.CharField(_("file name"), max_length=200)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    sheets = models.JSONField(_("sheets"), default=list, blank=True,
                              help_text=_("The worksheets of a workbook, in their order (chart sheets left out)."))
    sheet = models.CharField(_("sheet"), max_length=255, blank=True,
                             help_text=_("The worksheet that is read; by default the first one with data."))
    headers = models.JSONField(_("columns"), default=list)
    mapping = models.JSONField(_("column mapping"), default=dict)
    mode = models.CharField(_("mode"), max_length=4, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    error_rows = models.PositiveIntegerField(_("bad rows"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   related_name="+", verbose_name=_("by"))

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name


class ImportJob(UploadedImport):
    """A customer import: the uploaded file, the column mapping and the validation report."""

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    created_count = models.PositiveIntegerField(_("created"), default=0)
    duplicate_count = models.PositiveIntegerField(_("possible duplicates"), default=0)

    class Meta(UploadedImport.Meta):
        verbose_name = _("import")
        verbose_name_plural = _("imports")

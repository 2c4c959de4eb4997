"""Products and orders: the mall's stores, a product catalogue, paid orders with their lines, and refunds.

Orders are the behavioural heart of loyalty: each order writes an `order.paid` event on the customer's timeline
(and each refund an `order.refunded` one), which the member club turns into points.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fidelis.core.models import PublicIdModel, TimeStampedModel, new_public_id
from fidelis.customers.models import UploadedImport

MONEY = {"max_digits": 12, "decimal_places": 2}


class Store(TimeStampedModel):
    """One of the mall's shops or a branch of the business: where an order is paid."""

    code = models.CharField(_("store code"), max_length=20, unique=True,
                            help_text=_("A short code the tills and files use, e.g. 1F-01."))
    name = models.CharField(_("name"), max_length=80)
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("Inactive stores take no new orders; their history stays."))

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProductCategory(TimeStampedModel):
    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent category"))

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="sales_category_name_unique",
                                    violation_error_message=_("A category of this name exists already.")),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="sales_category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> str:
        """Return "parent / name" (the category with its ancestors)."""
        names, seen, node = [], set(), self
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            names.append(node.name)
            node = node.parent
        return " / ".join(reversed(names))


class Product(PublicIdModel):
    sku = models.CharField(_("SKU"), max_length=40, unique=True, help_text=_("The article number on the tag."))
    name = models.CharField(_("name"), max_length=120)
    category = models.ForeignKey(ProductCategory, on_delete=models.PROTECT, related_name="products",
                                 verbose_name=pgettext_lazy("product", "category"))
    list_price = models.DecimalField(_("list price"), **MONEY, help_text=_("In CNY, before discounts."))
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("Inactive products cannot be sold; their orders stay."))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="sales_product_price_not_negative"),
        ]
        indexes = [models.Index(fields=["category", "sku"], name="sales_product_category_idx")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderChannel(models.TextChoices):
    # The values are those of the event stream's channels, so the order.paid event carries the order's channel.
    STORE = "store", _("In store")
    ONLINE = "online", _("Online shop")
    WECHAT = "wechat", _("WeChat mini-program")
    PHONE = "phone", _("Phone order")


class PaymentMethod(models.TextChoices):
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    CARD = "card", _("Bank card")
    CASH = "cash", _("Cash")
    GIFT_CARD = "gift_card", _("Gift card / stored value")
    TRANSFER = "transfer", _("Bank transfer")
    OTHER = "other", _("Other")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
    REFUNDED = "refunded", _("Refunded")


class Order(PublicIdModel):
    """A paid order: subtotal = sum of the line amounts, paid = subtotal − order discount."""

    # Unique by a constraint (see Meta), not unique=True: that would add a LIKE index on PostgreSQL.
    public_id = models.CharField(_("public id"), max_length=16, default=new_public_id, editable=False)
    order_no = models.CharField(_("order number"), max_length=40, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders",
                                 verbose_name=_("customer"), db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=OrderChannel.choices,
                               default=OrderChannel.STORE)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, blank=True, related_name="orders",
                              verbose_name=_("store"), db_index=False)
    payment_method = models.CharField(_("payment method"), max_length=12, choices=PaymentMethod.choices,
                                      default=PaymentMethod.WECHAT_PAY)
    subtotal = models.DecimalField(_("subtotal"), **MONEY, help_text=_("The sum of the line amounts."))
    discount = models.DecimalField(_("order discount"), **MONEY, default=0)
    paid_amount = models.DecimalField(_("paid amount"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded amount"), **MONEY, default=0)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PAID)
    paid_at = models.DateTimeField(_("paid at"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("recorded by"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-paid_at", "-id"]
        # Every order writes each index: the public id and the idempotency key, only ever looked up whole, carry
        # their unique index and no LIKE index (PostgreSQL); the customer and the store are indexed first in
        # composite indexes below and have none of their own.
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="sales_order_public_id_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="sales_order_idempotency_unique"),
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="sales_order_subtotal_not_negative"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="sales_order_discount_not_negative"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="sales_order_paid_not_negative"),
            models.CheckConstraint(condition=Q(discount__lte=F("subtotal")), name="sales_order_discount_le_subtotal"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="sales_order_refunded_not_negative"),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("paid_amount")),
                                   name="sales_order_refunded_le_paid"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="sales_order_status_valid"),
            models.CheckConstraint(condition=Q(channel__in=OrderChannel.values), name="sales_order_channel_valid"),
        ]
        indexes = [
            models.Index(fields=["-paid_at", "-id"], name="sales_order_paid_idx"),
            models.Index(fields=["store", "paid_at"], name="sales_order_store_idx"),
            models.Index(fields=["channel", "paid_at"], name="sales_order_channel_idx"),
            models.Index(fields=["customer", "-paid_at"], name="sales_order_customer_idx"),
            models.Index(fields=["status", "paid_at"], name="sales_order_status_idx"),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def refundable(self):
        """Return what is left to refund."""
        return self.paid_amount - self.refunded_amount


class OrderLine(models.Model):
    """One product on an order: amount = quantity × unit price − line discount."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    # Product and category are indexed first in the two indexes of Meta.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product"),
                                db_index=False)
    # The category when sold: reports by category stay right after a product moves to another one.
    category = models.ForeignKey(ProductCategory, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=pgettext_lazy("product", "category"), db_index=False)
    quantity = models.IntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    discount = models.DecimalField(_("line discount"), **MONEY, default=0)
    amount = models.DecimalField(_("amount"), **MONEY)
    refunded_quantity = models.IntegerField(_("refunded quantity"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="sales_line_price_not_negative"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="sales_line_discount_not_negative"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="sales_line_amount_not_negative"),
            models.CheckConstraint(condition=Q(refunded_quantity__gte=0, refunded_quantity__lte=F("quantity")),
                                   name="sales_line_refunded_le_quantity"),
        ]
        indexes = [
            models.Index(fields=["product", "order"], name="sales_line_product_idx"),
            models.Index(fields=["category", "order"], name="sales_line_category_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} × {self.quantity}"


class Refund(PublicIdModel):
    """Money given back on an order, all or part of it; the order's refunded amount is the sum of these."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=200)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("refunded by"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="sales_refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.amount}"


class RefundLine(models.Model):
    """The products a refund takes back (optional: a refund may be of money only)."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines", verbose_name=_("refund"))
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines",
                             verbose_name=_("order line"))
    quantity = models.IntegerField(_("quantity"))

    class Meta:
        verbose_name = _("refunded line")
        verbose_name_plural = _("refunded lines")
        ordering = ["refund", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="sales_refund_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.line_id} × {self.quantity}"


class OrderImport(UploadedImport):
    """A historical order import: the uploaded file, the column mapping and the check report."""

    file = models.FileField(_("file"), upload_to="imports/orders/%Y/%m/")
    order_count = models.PositiveIntegerField(_("orders created"), default=0)
    line_count = models.PositiveIntegerField(_("lines created"), default=0)

    class Meta(UploadedImport.Meta):
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")


class SalesDay(models.Model):
    """One day's sales (mall time) of a store and a channel, net of refunds: what the sales reports sum.

    Kept by the order services in the order's transaction (`fidelis.sales.rollups`); `rollups_rebuild` recomputes it.
    """

    day = models.DateField(_("day"))
    store_code = models.CharField(_("store code"), max_length=20, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=OrderChannel.choices)
    amount = models.DecimalField(_("net sales"), max_digits=16, decimal_places=2, default=0)
    orders = models.IntegerField(_("orders"), default=0)

    class Meta:
        verbose_name = _("daily sales")
        verbose_name_plural = _("daily sales")
        ordering = ["day", "store_code", "channel"]
        constraints = [models.UniqueConstraint(fields=["day", "store_code", "channel"], name="sales_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.store_code} {self.channel}"


class SalesDayProduct(models.Model):
    """One day's sales (mall time) of a product: the line amounts before order discounts and the pieces sold."""

    day = models.DateField(_("day"))
    # Derived from the order lines (`rollups_rebuild` writes it again): no foreign-key constraint and no index of
    # their own, so that the daily rows an import adds cost no look-ups at commit (two per row) and no index
    # entries beyond the unique key the reports read. Deleting a product or a category still removes its rows
    # (Django's CASCADE); a product with sales cannot be deleted anyway (its order lines protect it).
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+", verbose_name=_("product"),
                                db_constraint=False, db_index=False)
    category = models.ForeignKey(ProductCategory, on_delete=models.CASCADE, related_name="+",
                                 verbose_name=pgettext_lazy("product", "category"), db_constraint=False,
                                 db_index=False)
    amount = models.DecimalField(_("line sales"), max_digits=16, decimal_places=2, default=0)
    quantity = models.IntegerField(_("pieces"), default=0)

    class Meta:
        verbose_name = _("daily product sales")
        verbose_name_plural = _("daily product sales")
        ordering = ["day", "product"]
        constraints = [models.UniqueConstraint(fields=["day", "product", "category"],
                                               name="sales_day_product_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.product_id}"

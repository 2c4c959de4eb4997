"""Forms of the sales UI: the catalogue (products, stores, categories), a new order with its lines, a refund."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fidelis.sales.models import OrderChannel, PaymentMethod, ProductCategory, Store

MONEY_FIELD = {"max_digits": 12, "decimal_places": 2, "min_value": 0}
_LINE_KEY = re.compile(r"^line-(\d{1,3})-sku$")


class ProductForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=40)
    name = forms.CharField(label=_("name"), max_length=120)
    category = forms.ModelChoiceField(label=pgettext_lazy("product", "category"),
                                      queryset=ProductCategory.objects.order_by("name"))
    list_price = forms.DecimalField(label=_("list price"), help_text=_("In CNY, before discounts."), **MONEY_FIELD)
    is_active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {"sku": instance.sku, "name": instance.name, "category": instance.category_id,
                                          "list_price": instance.list_price, "is_active": instance.is_active})
        super().__init__(*args, **kwargs)


class StoreForm(forms.Form):
    code = forms.CharField(label=_("store code"), max_length=20, help_text=_("A short code the tills and files use, "
                                                                             "e.g. 1F-01."))
    name = forms.CharField(label=_("name"), max_length=80)
    is_active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {"code": instance.code, "name": instance.name, "is_active": instance.is_active})
        super().__init__(*args, **kwargs)


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=60)
    parent = forms.ModelChoiceField(label=_("parent category"), queryset=ProductCategory.objects.order_by("name"),
                                    required=False)

    def __init__(self, *args, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {"name": instance.name, "parent": instance.parent_id})
        super().__init__(*args, **kwargs)
        if instance is not None:
            self.fields["parent"].queryset = ProductCategory.objects.exclude(pk=instance.pk).order_by("name")


class OrderForm(forms.Form):
    """The order's head; its lines come as line-<n>-sku / -quantity / -unit_price / -discount (see `lines`)."""

    customer = forms.CharField(label=_("customer"), max_length=16,
                               error_messages={"required": _("Choose the customer.")})
    channel = forms.ChoiceField(label=_("channel"), choices=OrderChannel.choices, initial=OrderChannel.STORE)
    store = forms.ModelChoiceField(label=_("store"), queryset=Store.objects.filter(is_active=True).order_by("code"),
                                   to_field_name="code", required=False)
    payment_method = forms.ChoiceField(label=_("payment method"), choices=PaymentMethod.choices)
    discount = forms.DecimalField(label=_("order discount"), required=False, initial=0, **MONEY_FIELD)
    paid_at = forms.DateTimeField(label=_("paid at"), required=False, help_text=_("Leave empty for now."),
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                  input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
    note = forms.CharField(label=_("note"), max_length=200, required=False)

    def line_rows(self) -> list[dict[str, Any]]:
        """Return the submitted line rows (index and raw values), blank rows included, in order."""
        data = self.data if self.is_bound else {}
        indexes = sorted(int(m.group(1)) for key in data if (m := _LINE_KEY.match(key)))
        return [{"index": i, **{f: str(data.get(f"line-{i}-{f}", "")).strip()
                                for f in ("sku", "quantity", "unit_price", "discount")}} for i in indexes]

    def lines(self) -> tuple[list[dict[str, Any]], list[int]]:
        """Return the filled lines for `order_create` and the row index of each (to show errors on the row)."""
        lines, rows = [], []
        for row in self.line_rows():
            if not row["sku"] and not row["quantity"]:
                continue
            line = {"sku": row["sku"], "quantity": row["quantity"] or "1"}
            if row["unit_price"]:
                line["unit_price"] = row["unit_price"]
            if row["discount"]:
                line["discount"] = row["discount"]
            lines.append(line)
            rows.append(row["index"])
        return lines, rows


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("amount"), required=False, max_digits=12, decimal_places=2,
                                help_text=_("Leave empty to refund the value of the products taken back."))
    reason = forms.CharField(label=_("reason"), max_length=200)

    def lines(self, order_lines) -> list[dict[str, Any]]:
        """Return the products taken back: refund-<line id> quantities that are filled in."""
        picked = []
        for line in order_lines:
            raw = str(self.data.get(f"refund-{line.pk}", "")).strip()
            if raw and raw != "0":
                picked.append({"line": line.pk, "quantity": raw})
        return picked

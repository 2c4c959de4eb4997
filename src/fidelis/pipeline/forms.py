"""Forms of the pipeline UI: an opportunity, a stage move, won (order and/or contract), lost, a contract."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fidelis.pipeline.models import ContractStatus, LostReason, OpportunitySource, Stage, StageKind
from fidelis.sales.models import OrderChannel, PaymentMethod, Product, Store

DATE_FORMATS = ["%Y-%m-%d"]
DATE_ERRORS = {"invalid": _("Enter a real date like 2026-12-31.")}
MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": 0}


def _date_field(label, required=False):
    return forms.DateField(label=label, required=required, input_formats=DATE_FORMATS, error_messages=DATE_ERRORS,
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


class OpportunityForm(forms.Form):
    customer = forms.CharField(label=_("customer"), max_length=16, required=False)
    title = forms.CharField(label=_("title"), max_length=120)
    source = forms.ChoiceField(label=_("source"), choices=OpportunitySource.choices)
    expected_amount = forms.DecimalField(label=_("expected amount"), required=False, help_text=_("In CNY."), **MONEY)
    expected_close_date = _date_field(_("expected close date"))
    stage = forms.ModelChoiceField(label=_("stage"), queryset=Stage.objects.none(), required=False)
    probability = forms.IntegerField(label=_("probability %"), required=False, min_value=0, max_value=100,
                                     help_text=_("Leave empty for the stage's probability."))
    owner = forms.ModelChoiceField(label=_("owner"), queryset=None, required=False)
    products = forms.ModelMultipleChoiceField(label=_("products"), required=False,
                                              queryset=Product.objects.filter(is_active=True).order_by("sku"),
                                              to_field_name="sku")
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, stages=None, owners=None, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {
                "title": instance.title, "source": instance.source, "expected_amount": instance.expected_amount,
                "expected_close_date": instance.expected_close_date, "probability": instance.probability,
                "owner": instance.owner_id, "notes": instance.notes,
                "products": [p.sku for p in instance.products.all()]})
        super().__init__(*args, **kwargs)
        if stages is not None:
            self.fields["stage"].queryset = stages
        else:
            del self.fields["stage"]
        if owners is not None:
            self.fields["owner"].queryset = owners
        else:
            del self.fields["owner"]
        if instance is not None:
            del self.fields["customer"]


class MoveForm(forms.Form):
    """A stage move from the board or the detail page, with the fields the stage may need."""

    stage = forms.ModelChoiceField(label=_("stage"), queryset=Stage.objects.all())
    expected_amount = forms.DecimalField(label=_("expected amount"), required=False, **MONEY)
    expected_close_date = _date_field(_("expected close date"))
    lost_reason = forms.ChoiceField(label=_("lost reason"), required=False,
                                    choices=[("", "—"), *LostReason.choices])
    lost_note = forms.CharField(label=_("lost note"), required=False, max_length=300)

    def data_fields(self) -> dict:
        """Return the opportunity fields filled in along with the move."""
        return {f: self.cleaned_data[f] for f in ("expected_amount", "expected_close_date")
                if self.cleaned_data.get(f) not in (None, "")}


class WonForm(forms.Form):
    """Mark won, creating an order (one product line) and/or a contract."""

    create_order = forms.BooleanField(label=_("Record an order"), required=False)
    product = forms.ModelChoiceField(label=_("product"), required=False, to_field_name="sku",
                                     queryset=Product.objects.filter(is_active=True).order_by("sku"))
    quantity = forms.IntegerField(label=_("quantity"), required=False, min_value=1, initial=1)
    unit_price = forms.DecimalField(label=_("unit price"), required=False,
                                    help_text=_("Leave empty for the list price."), **MONEY)
    channel = forms.ChoiceField(label=_("channel"), choices=OrderChannel.choices, initial=OrderChannel.STORE)
    store = forms.ModelChoiceField(label=_("store"), queryset=Store.objects.filter(is_active=True).order_by("code"),
                                   to_field_name="code", required=False)
    payment_method = forms.ChoiceField(label=_("payment method"), choices=PaymentMethod.choices)
    create_contract = forms.BooleanField(label=_("Register a contract"), required=False)
    contract_number = forms.CharField(label=_("contract number"), required=False, max_length=40)
    contract_amount = forms.DecimalField(label=_("contract amount"), required=False,
                                         help_text=_("Leave empty for the expected amount."), **MONEY)
    start_date = _date_field(_("start date"))
    end_date = _date_field(_("end date"))

    def clean(self):
        data = super().clean()
        if data.get("create_order") and not data.get("product"):
            self.add_error("product", _("Choose the product of the order."))
        if data.get("create_contract"):
            for field in ("contract_number", "start_date", "end_date"):
                if not data.get(field) and field not in self.errors:
                    self.add_error(field, _("This field is required."))
        return data

    def order_options(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("create_order"):
            return None
        line = {"sku": data["product"].sku, "quantity": data.get("quantity") or 1}
        if data.get("unit_price") is not None:
            line["unit_price"] = data["unit_price"]
        return {"lines": [line], "channel": data["channel"], "store": data.get("store"),
                "payment_method": data["payment_method"]}

    def contract_options(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("create_contract"):
            return None
        options = {"number": data["contract_number"], "start_date": data["start_date"], "end_date": data["end_date"],
                   "payment_method": data["payment_method"]}
        if data.get("contract_amount") is not None:
            options["amount"] = data["contract_amount"]
        return options


class LostForm(forms.Form):
    lost_reason = forms.ChoiceField(label=_("lost reason"), choices=LostReason.choices)
    lost_note = forms.CharField(label=_("lost note"), required=False, max_length=300)


class ContractForm(forms.Form):
    customer = forms.CharField(label=_("customer"), max_length=16, required=False)
    number = forms.CharField(label=_("contract number"), max_length=40)
    title = forms.CharField(label=_("title"), max_length=120, required=False)
    amount = forms.DecimalField(label=_("amount"), help_text=_("In CNY."), **MONEY)
    payment_method = forms.ChoiceField(label=_("payment method"), choices=PaymentMethod.choices,
                                       initial=PaymentMethod.TRANSFER)
    start_date = _date_field(_("start date"), required=True)
    end_date = _date_field(_("end date"), required=True)
    signed_at = _date_field(_("signed on"))
    status = forms.ChoiceField(label=_("status"), initial=ContractStatus.ACTIVE,
                               choices=[(ContractStatus.DRAFT, ContractStatus.DRAFT.label),
                                        (ContractStatus.ACTIVE, ContractStatus.ACTIVE.label)])
    owner = forms.ModelChoiceField(label=_("owner"), queryset=None, required=False)
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, owners=None, instance=None, **kwargs):
        if instance is not None:
            kwargs.setdefault("initial", {f: getattr(instance, f) for f in (
                "number", "title", "amount", "payment_method", "start_date", "end_date", "signed_at", "status",
                "notes")} | {"owner": instance.owner_id})
        super().__init__(*args, **kwargs)
        if owners is not None:
            self.fields["owner"].queryset = owners
        else:
            del self.fields["owner"]
        if instance is not None:
            del self.fields["customer"]
            if instance.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
                del self.fields["status"]

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date is before the start date."))
        return data


class RenewForm(forms.Form):
    number = forms.CharField(label=_("new contract number"), max_length=40)
    amount = forms.DecimalField(label=_("amount"), required=False, help_text=_("Leave empty for the same amount."),
                                **MONEY)
    start_date = _date_field(_("start date"))
    end_date = _date_field(_("end date"))


class TerminateForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=300)


def open_stages(pipeline):
    return pipeline.stages.filter(kind=StageKind.OPEN).order_by("order")

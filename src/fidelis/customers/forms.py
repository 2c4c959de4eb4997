"""Forms of the customer archive; saving goes through the services."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.models import Role, User
from fidelis.customers.models import ConsentChannel, Customer

# The form in the order of the 360° page; every user-editable field of the model appears once.
FIELDSETS = [
    ("basic", _("Basic data"), ["kind", "name", "number", "gender", "birthday", "source", "owner"]),
    ("contact", _("Contact data"), ["phone", "phone_alt", "email", "wechat_id", "province", "city", "district",
                                    "address"]),
    ("classification", _("Classification"), ["category", "value_tier", "lifecycle_stage"]),
    ("company", _("Company data"), ["company_name", "industry", "company_size"]),
    ("notes", _("Personal notes"), ["occupation", "interests", "special_requests", "notes"]),
]
WIDE_FIELDS = {"address", "special_requests", "notes"}
FORM_FIELDS = [name for _key, _label, names in FIELDSETS for name in names if name != "owner"]


class CustomerForm(forms.ModelForm):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("owner"),
                                   empty_label=_("Unassigned"))
    # Shown once the service has found a stored customer with the same phone or e-mail.
    confirm_duplicate = forms.BooleanField(required=False,
                                           label=_("Create anyway: this is a different customer"))

    class Meta:
        model = Customer
        fields = FORM_FIELDS
        widgets = {
            "birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "special_requests": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].required = False
        self.fields["phone"].widget.attrs.update(inputmode="tel", autocomplete="off")
        self.fields["phone_alt"].widget.attrs.update(inputmode="tel", autocomplete="off")
        current_owner = self.instance.owner_id if self.instance.pk else None
        if user is not None and user.effective_role == Role.SALES:
            # A sales rep keeps customers for themselves or leaves them unassigned.
            owners = User.objects.filter(pk=user.pk)
        else:
            owners = User.objects.filter(Q(is_active=True, role=Role.SALES) | Q(pk=current_owner))
        self.fields["owner"].queryset = owners.order_by("display_name", "username")
        if self.instance.pk:
            self.fields["owner"].initial = current_owner

    def _post_clean(self):
        # Model validation runs in the service, after it has normalised the phones.
        pass

    def service_data(self) -> dict:
        """Return the cleaned values of the model's editable fields, for customer_create / customer_update."""
        return {name: self.cleaned_data[name] for name in FORM_FIELDS if name in self.cleaned_data}

    def fieldsets(self):
        """Yield (key, legend, bound fields) in the order of the 360° page."""
        for key, label, names in FIELDSETS:
            yield key, label, [self[name] for name in names]


class TagForm(forms.Form):
    tag = forms.CharField(label=_("tag"), max_length=81,
                          widget=forms.TextInput(attrs={"placeholder": _("group:name or name, e.g. pet breed:Teddy"),
                                                        "autocomplete": "off"}))


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=ConsentChannel.choices, label=_("channel"))
    granted = forms.TypedChoiceField(choices=[("1", _("Grant")), ("0", _("Withdraw"))], coerce=lambda v: v == "1",
                                     label=_("consent"))
    source = forms.CharField(label=_("source"), max_length=80,
                             widget=forms.TextInput(attrs={"placeholder": _("Source, e.g. store registration form")}))


class ContactForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100, widget=forms.TextInput(attrs={"placeholder": _("name")}))
    title = forms.CharField(label=_("job title"), max_length=60, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("job title")}))
    phone = forms.CharField(label=_("phone"), max_length=30, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("phone"), "inputmode": "tel"}))
    email = forms.EmailField(label=_("e-mail"), required=False,
                             widget=forms.EmailInput(attrs={"placeholder": _("e-mail")}))
    is_primary = forms.BooleanField(label=_("primary contact"), required=False)

"""Forms of the customer archive; saving goes through the services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.models import Role, User
from fidelis.customers.models import ConsentChannel, Customer
from fidelis.customers.services import EDITABLE_FIELDS

FORM_FIELDS = [f for f in EDITABLE_FIELDS if f != "number"] + ["number"]


class CustomerForm(forms.ModelForm):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=_("owner"))

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
        self.fields["phone"].widget.attrs["inputmode"] = "tel"
        if user is not None and user.effective_role == Role.SALES:
            # A sales rep keeps new customers for themselves or leaves them unassigned.
            self.fields["owner"].queryset = User.objects.filter(pk=user.pk)
        else:
            self.fields["owner"].queryset = User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER])
        if self.instance.pk:
            self.fields["owner"].initial = self.instance.owner_id

    def _post_clean(self):
        # Validation of the model runs in the service, which normalises phones first.
        pass

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in FORM_FIELDS if name in self.cleaned_data}


class TagForm(forms.Form):
    tag = forms.CharField(label=_("tag"), max_length=81,
                          widget=forms.TextInput(attrs={"placeholder": _("e.g. pet breed:Teddy")}))


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=ConsentChannel.choices, label=_("channel"))
    granted = forms.TypedChoiceField(choices=[("1", _("Granted")), ("0", _("Withdrawn"))], coerce=lambda v: v == "1",
                                     label=_("consent"))
    source = forms.CharField(label=_("source"), max_length=80,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. store registration form")}))


class ContactForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100, widget=forms.TextInput(attrs={"placeholder": _("name")}))
    title = forms.CharField(label=_("job title"), max_length=60, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("job title")}))
    phone = forms.CharField(label=_("phone"), max_length=30, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("phone")}))
    email = forms.EmailField(label=_("e-mail"), required=False,
                             widget=forms.EmailInput(attrs={"placeholder": _("e-mail")}))
    is_primary = forms.BooleanField(label=_("primary contact"), required=False)

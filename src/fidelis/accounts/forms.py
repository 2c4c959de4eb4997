"""Forms of the managers' pages; saving goes through the services."""

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.models import ApiScope, Role


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("user name"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}))
    display_name = forms.CharField(label=_("display name"), max_length=80, required=False)
    email = forms.EmailField(label=_("e-mail"), required=False)
    role = forms.ChoiceField(label=_("role"), choices=Role.choices, initial=Role.SALES)
    password = forms.CharField(label=_("password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("At least 8 characters, not a common password."))

    def clean_password(self):
        password = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
    is_active = forms.BooleanField(label=_("active"), required=False,
                                   help_text=_("An inactive user can no longer log in or use API tokens."))


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. POS store 1")}))
    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=ApiScope.choices,
                                       widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=3650, required=False,
                                         help_text=_("Leave empty for a token that does not expire."))

from django import forms
from django.utils.translation import gettext_lazy as _

from fidelis.accounts.models import ApiScope, Role


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("user name"), max_length=150)
    display_name = forms.CharField(label=_("display name"), max_length=80, required=False)
    email = forms.EmailField(label=_("e-mail"), required=False)
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
    password = forms.CharField(label=_("password"), widget=forms.PasswordInput, min_length=8)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
    is_active = forms.BooleanField(label=_("active"), required=False)


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=80, widget=forms.TextInput(attrs={"placeholder": _("e.g. POS store 1")}))
    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=3650, required=False,
                                         help_text=_("Leave empty for a token that does not expire."))

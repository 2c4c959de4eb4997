"""The form of a touchpoint; saving goes through the services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fidelis.events.models import Channel
from fidelis.feedback.models import JourneyStage, Touchpoint

# The channels where a customer meets the mall (not how data came in: API, import, system).
CUSTOMER_CHANNELS = (Channel.STORE, Channel.ONLINE, Channel.WECHAT, Channel.PHONE, Channel.EMAIL, Channel.SMS,
                     Channel.WEB)


class TouchpointForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": _("e.g. 收银台 or 客服热线")}))
    stage = forms.ChoiceField(label=_("journey stage"), choices=JourneyStage.choices)
    channel = forms.ChoiceField(label=_("channel"), required=False,
                                choices=[("", _("— no channel —")), *[(c.value, c.label) for c in CUSTOMER_CHANNELS]])
    owner_team = forms.CharField(label=_("owner team"), max_length=60,
                                 help_text=_("The team that answers for this touchpoint, e.g. 收银组 or 客服中心."))
    description = forms.CharField(label=_("description"), required=False, max_length=1000,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, touchpoint: Touchpoint | None = None, stage: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if touchpoint is not None:
            self.initial.update({name: getattr(touchpoint, name) for name in self.fields})
            if touchpoint.channel and touchpoint.channel not in CUSTOMER_CHANNELS:
                # A channel set through the API stays choosable.
                self.fields["channel"].choices = [*self.fields["channel"].choices,
                                                  (touchpoint.channel, touchpoint.get_channel_display())]
        elif stage in JourneyStage.values:
            self.initial["stage"] = stage

    def service_data(self) -> dict:
        return dict(self.cleaned_data)

"""Managers' pages of the outgoing webhooks: endpoints, their subscriptions and recent deliveries."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.events.models import DeliveryStatus
from fidelis.events.webhooks import (
    EVENT_TYPE_CHOICES,
    webhook_delivery_get,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_deactivate,
    webhook_endpoint_get,
    webhook_endpoint_ping,
    webhook_endpoint_update,
    webhook_endpoints_for_page,
)


class WebhookEndpointForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. member app")}))
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https",
                         widget=forms.URLInput(attrs={"placeholder": "https://"}),
                         help_text=gettext_lazy("Fidelis POSTs each event here as JSON."))
    event_types = forms.MultipleChoiceField(label=gettext_lazy("event types"), choices=EVENT_TYPE_CHOICES,
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text=gettext_lazy("“All events” includes types added later."))


class WebhookEndpointEditForm(WebhookEndpointForm):
    is_active = forms.BooleanField(label=gettext_lazy("active"), required=False,
                                   help_text=gettext_lazy("An inactive endpoint receives nothing; "
                                                          "its deliveries wait."))


def _endpoint_or_404(public_id: str):
    endpoint = webhook_endpoint_get(public_id)
    if endpoint is None:
        raise Http404
    return endpoint


@require_capability("webhook.manage")
def webhook_list(request):
    """List the endpoints with their latest deliveries and register one; its secret is shown once."""
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhook_endpoint_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            form = WebhookEndpointForm()
    labels = dict(EVENT_TYPE_CHOICES)
    endpoints = list(webhook_endpoints_for_page())
    for endpoint in endpoints:
        endpoint.type_labels = [labels.get(t, t) for t in endpoint.event_types]
    return render(request, "events/webhook_list.html", {
        "endpoints": endpoints, "form": form, "created": created, "statuses": DeliveryStatus,
    })


@require_capability("webhook.manage")
def webhook_edit(request, public_id: str):
    """Change an endpoint's name, URL, subscriptions or activity."""
    endpoint = _endpoint_or_404(public_id)
    form = WebhookEndpointEditForm(request.POST or None, initial={
        "name": endpoint.name, "url": endpoint.url, "event_types": endpoint.event_types,
        "is_active": endpoint.is_active})
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("events:webhooks")
    return render(request, "events/webhook_edit.html", {"endpoint": endpoint, "form": form})


@require_capability("webhook.manage")
@require_POST
def webhook_deactivate(request, public_id: str):
    """Stop sending to an endpoint."""
    endpoint = webhook_endpoint_deactivate(actor=request.user, endpoint=_endpoint_or_404(public_id))
    messages.success(request, _("Webhook %(name)s deactivated.") % {"name": endpoint.name})
    return redirect("events:webhooks")


@require_capability("webhook.manage")
@require_POST
def webhook_test(request, public_id: str):
    """Send a test event to an endpoint."""
    try:
        webhook_endpoint_ping(actor=request.user, endpoint=_endpoint_or_404(public_id))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Test event queued; its delivery is listed below."))
    return redirect("events:webhooks")


@require_capability("webhook.manage")
@require_POST
def webhook_delivery_retry_now(request, public_id: str):
    """Send a failed delivery once more."""
    delivery = webhook_delivery_get(public_id)
    if delivery is None:
        raise Http404
    try:
        webhook_delivery_retry(actor=request.user, delivery=delivery)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Delivery sent again; its status is updated below."))
    return redirect("events:webhooks")

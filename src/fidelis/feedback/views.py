"""The touchpoint catalogue in the UI: the journey view (everyone), the form and the htmx actions (marketing and
managers)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.feedback import selectors, services
from fidelis.feedback.forms import TouchpointForm


def _journey_context(request, error: str = "") -> dict:
    stages = selectors.touchpoints_by_stage()
    return {"stages": stages, "error": error, "can_manage": has_capability(request.user, "touchpoint.manage"),
            "total": sum(len(s.touchpoints) for s in stages)}


@require_capability("touchpoint.view")
def touchpoint_journey(request):
    """Show the touchpoints stage by stage, in the order of the customer journey."""
    return render(request, "feedback/touchpoint_journey.html", _journey_context(request))


def _touchpoint_form(request, touchpoint=None):
    stage = request.GET.get("stage", "")
    form = TouchpointForm(request.POST or None, touchpoint=touchpoint, stage=stage)
    if request.method == "POST" and form.is_valid():
        try:
            touchpoint = services.touchpoint_save(actor=request.user, touchpoint=touchpoint,
                                                  data=form.service_data())
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Touchpoint “%(name)s” saved.") % {"name": touchpoint.name})
            return redirect(f"{_journey_url()}#stage-{touchpoint.stage}")
    return render(request, "feedback/touchpoint_form.html", {"form": form, "touchpoint": touchpoint})


def _journey_url() -> str:
    return reverse("feedback:touchpoints")


@require_capability("touchpoint.manage")
def touchpoint_create(request):
    return _touchpoint_form(request)


@require_capability("touchpoint.manage")
def touchpoint_edit(request, public_id: str):
    return _touchpoint_form(request, selectors.touchpoint_get(public_id))


def _act(request, public_id: str, action):
    """Run one action on a touchpoint; answer htmx with the journey again, a form post with a redirect to it."""
    touchpoint = selectors.touchpoint_get(public_id)
    error = ""
    try:
        action(touchpoint)
    except DomainError as exc:
        error = str(exc.message)
    if request.htmx:
        return render(request, "feedback/_journey.html", _journey_context(request, error))
    if error:
        messages.error(request, error)
    return redirect(f"{_journey_url()}#stage-{touchpoint.stage}")


@require_capability("touchpoint.manage")
@require_POST
def touchpoint_deactivate(request, public_id: str):
    return _act(request, public_id, lambda t: services.touchpoint_deactivate(actor=request.user, touchpoint=t))


@require_capability("touchpoint.manage")
@require_POST
def touchpoint_reactivate(request, public_id: str):
    return _act(request, public_id, lambda t: services.touchpoint_reactivate(actor=request.user, touchpoint=t))


@require_capability("touchpoint.manage")
@require_POST
def touchpoint_move(request, public_id: str):
    direction = request.POST.get("direction", "")
    return _act(request, public_id,
                lambda t: services.touchpoint_move(actor=request.user, touchpoint=t, direction=direction))


urlpatterns = [
    path("touchpoints/", touchpoint_journey, name="touchpoints"),
    path("touchpoints/new/", touchpoint_create, name="touchpoint_create"),
    path("touchpoints/<str:public_id>/", touchpoint_edit, name="touchpoint_edit"),
    path("touchpoints/<str:public_id>/deactivate/", touchpoint_deactivate, name="touchpoint_deactivate"),
    path("touchpoints/<str:public_id>/reactivate/", touchpoint_reactivate, name="touchpoint_reactivate"),
    path("touchpoints/<str:public_id>/move/", touchpoint_move, name="touchpoint_move"),
]

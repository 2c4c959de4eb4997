"""Managing the sales pipelines in the UI: the list of pipelines, a pipeline's form and, on its page, its stages
(add, edit in place, move up / down, delete).

Stage actions swap the stage table with htmx when it is there; each also works as a plain form post that redirects
back to the pipeline's page (or shows it again, with the refusal, and status 400)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.pipeline import stages as services
from fidelis.pipeline.models import REQUIRABLE_FIELDS, Opportunity, StageKind
from fidelis.pipeline.selectors import pipeline_get, pipelines_overview, stage_get, stages_with_counts


def _requirable_choices():
    return [(f, Opportunity._meta.get_field(f).verbose_name) for f in REQUIRABLE_FIELDS]


class PipelineForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=80)
    is_active = forms.BooleanField(label=gettext_lazy("active"), required=False, initial=True,
                                   help_text=gettext_lazy("Inactive pipelines leave the board; their history stays."))
    is_default = forms.BooleanField(label=gettext_lazy("default"), required=False,
                                    help_text=gettext_lazy("New opportunities go into the default pipeline."))


class StageForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=40)
    probability = forms.IntegerField(label=gettext_lazy("probability %"), min_value=0, max_value=100,
                                     help_text=gettext_lazy("The default chance of winning in this stage."))
    kind = forms.ChoiceField(label=gettext_lazy("kind"), choices=StageKind.choices, initial=StageKind.OPEN)
    required_fields = forms.MultipleChoiceField(
        label=gettext_lazy("required fields"), required=False, choices=_requirable_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Fields that must be filled before an opportunity enters it."))


def _stage_form(data=None, stage=None) -> StageForm:
    if stage is None:
        return StageForm(data, auto_id="new-stage-%s", initial={"kind": StageKind.OPEN})
    return StageForm(data, auto_id=f"stage-{stage.pk}-%s", initial={
        "name": stage.name, "probability": stage.probability, "kind": stage.kind,
        "required_fields": stage.required_fields})


def _edit_url(pipeline) -> str:
    return reverse("pipeline:pipeline_edit", kwargs={"pk": pipeline.pk})


def _stages_response(request, pipeline, *, new_form=None, editing=None, edit_form=None, error="", notice="",
                     form=None):
    """Render the stage table (htmx) or the whole pipeline page; a refusal is a 400 on the page, a 200 fragment
    for htmx (which swaps only successful answers)."""
    labels = dict(_requirable_choices())
    rows = [{"stage": s, "required": [labels[f] for f in s.required_fields or [] if f in labels]}
            for s in stages_with_counts(pipeline)]
    refused = bool(error or (new_form is not None and new_form.errors) or (edit_form is not None and edit_form.errors))
    context = {"pipeline": pipeline, "rows": rows, "new_form": new_form or _stage_form(),
               "editing": editing.pk if editing is not None else None, "edit_form": edit_form, "error": error,
               "notice": notice}
    if request.htmx:
        return render(request, "pipeline/_stage_table.html", context)
    form = form or PipelineForm(initial={"name": pipeline.name, "is_active": pipeline.is_active,
                                         "is_default": pipeline.is_default})
    return render(request, "pipeline/pipeline_admin_form.html", context | {"form": form},
                  status=400 if refused or form.errors else 200)


def _stage_done(request, stage_or_pipeline, notice: str):
    pipeline = getattr(stage_or_pipeline, "pipeline", stage_or_pipeline)
    if request.htmx:
        return _stages_response(request, pipeline, notice=notice)
    messages.success(request, notice)
    return redirect(_edit_url(pipeline))


# --- pipelines ----------------------------------------------------------------------------------------------------


@require_capability("opportunity.view")
def pipeline_list(request):
    """List the pipelines: active, default, number of stages and of open opportunities."""
    return render(request, "pipeline/pipeline_admin_list.html", {
        "rows": pipelines_overview(request.user),
        "can_manage": has_capability(request.user, services.CAPABILITY)})


@require_capability(services.CAPABILITY)
def pipeline_create(request):
    """Create a pipeline; it starts with the standard stages, changed on its page afterwards."""
    form = PipelineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = services.pipeline_save(actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Pipeline %(name)s saved.") % {"name": pipeline.name})
            return redirect(_edit_url(pipeline))
    return render(request, "pipeline/pipeline_admin_form.html", {"form": form}, status=400 if form.errors else 200)


@require_capability(services.CAPABILITY)
def pipeline_edit(request, pk: int):
    """Change a pipeline's name, active and default; its stages below."""
    pipeline = pipeline_get(pk)
    form = None
    if request.method == "POST":
        form = PipelineForm(request.POST)
        if form.is_valid():
            try:
                services.pipeline_save(actor=request.user, pipeline=pipeline, data=form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("Pipeline %(name)s saved.") % {"name": form.cleaned_data["name"]})
                return redirect(_edit_url(pipeline))
    return _stages_response(request, pipeline, form=form)


# --- stages -------------------------------------------------------------------------------------------------------


@require_POST
@require_capability(services.CAPABILITY)
def stage_create(request, pk: int):
    """Add a stage at the end of the pipeline."""
    pipeline = pipeline_get(pk)
    form = _stage_form(request.POST)
    if form.is_valid():
        try:
            stage = services.stage_save(actor=request.user, pipeline=pipeline, data=form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            return _stage_done(request, stage, _("Stage %(name)s added.") % {"name": stage.name})
    return _stages_response(request, pipeline, new_form=form)


@require_capability(services.CAPABILITY)
def stage_edit(request, pk: int):
    """Edit a stage in its row (htmx) or on the pipeline's page."""
    stage = stage_get(pk)
    form = _stage_form(request.POST if request.method == "POST" else None, stage)
    if request.method == "POST" and form.is_valid():
        try:
            stage = services.stage_save(actor=request.user, stage=stage, data=form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            return _stage_done(request, stage, _("Stage %(name)s saved.") % {"name": stage.name})
    return _stages_response(request, stage.pipeline, editing=stage, edit_form=form)


@require_POST
@require_capability(services.CAPABILITY)
def stage_move(request, pk: int):
    """Move a stage one place up or down (`direction`)."""
    stage = stage_get(pk)
    ids = list(stage.pipeline.stages.order_by("order", "id").values_list("pk", flat=True))
    step = {"up": -1, "down": 1}.get(request.POST.get("direction", ""), 0)
    position = min(max(ids.index(stage.pk) + 1 + step, 1), len(ids))
    try:
        services.stage_move(actor=request.user, stage=stage, position=position)
    except DomainError as exc:
        return _stages_response(request, stage.pipeline, error=str(exc.message))
    return _stage_done(request, stage, _("Stage %(name)s moved.") % {"name": stage.name})


@require_POST
@require_capability(services.CAPABILITY)
def stage_delete(request, pk: int):
    """Delete a stage no opportunity is in or has been in (refused with the reason otherwise)."""
    stage = stage_get(pk)
    try:
        services.stage_delete(actor=request.user, stage=stage)
    except DomainError as exc:
        return _stages_response(request, stage.pipeline, error=str(exc.message))
    return _stage_done(request, stage.pipeline, _("Stage %(name)s deleted.") % {"name": stage.name})


urlpatterns = [
    path("pipelines/", pipeline_list, name="pipelines"),
    path("pipelines/new/", pipeline_create, name="pipeline_create"),
    path("pipelines/<int:pk>/", pipeline_edit, name="pipeline_edit"),
    path("pipelines/<int:pk>/stages/", stage_create, name="stage_create"),
    path("pipelines/stages/<int:pk>/", stage_edit, name="stage_edit"),
    path("pipelines/stages/<int:pk>/move/", stage_move, name="stage_move"),
    path("pipelines/stages/<int:pk>/delete/", stage_delete, name="stage_delete"),
]

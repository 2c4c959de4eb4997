"""Follow-up rules (回访): everyone who works on tasks sees which rules open their tasks; managers set them up."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.permissions import has_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.work import selectors, services
from fidelis.work.forms import FollowUpRuleForm
from fidelis.work.models import TaskStatus


@require_capability("task.change")
def rule_list(request):
    """List the follow-up rules with the tasks each has opened (open / all)."""
    rules = selectors.follow_up_rules().annotate(
        open_tasks=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN)), all_tasks=Count("tasks"))
    return render(request, "work/rule_list.html", {"rules": rules,
                                                   "can_manage": has_capability(request.user, "task.rules")})


def _rule_form(request, rule=None):
    form = FollowUpRuleForm(request.POST or None, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                rule = services.follow_up_rule_create(actor=request.user, data=form.service_data())
            else:
                rule = services.follow_up_rule_update(actor=request.user, rule=rule, data=form.service_data())
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Follow-up rule “%(name)s” saved.") % {"name": rule.name})
            return redirect("work:rules")
    return render(request, "work/rule_form.html", {"form": form, "rule": rule})


@require_capability("task.rules")
def rule_create(request):
    return _rule_form(request)


@require_capability("task.rules")
def rule_edit(request, public_id: str):
    return _rule_form(request, selectors.follow_up_rule_get(public_id))


urlpatterns = [
    path("rules/", rule_list, name="rules"),
    path("rules/new/", rule_create, name="rule_create"),
    path("rules/<str:public_id>/", rule_edit, name="rule_edit"),
]

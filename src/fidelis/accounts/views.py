"""Managers' pages: users and roles, API tokens, the audit log."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from fidelis.accounts.audit_labels import action_label
from fidelis.accounts.decorators import require_capability
from fidelis.accounts.forms import TokenCreateForm, UserCreateForm, UserRoleForm
from fidelis.accounts.models import ApiToken, AuditEntry, User
from fidelis.accounts.services import (
    api_token_create,
    api_token_revoke,
    user_create,
    user_set_language,
    user_set_role,
)
from fidelis.core.errors import DomainError, form_error


@require_capability("user.manage")
def user_list(request):
    """List the staff users and create one with a role."""
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("accounts:users")
    users = User.objects.order_by("role", "username")
    return render(request, "accounts/user_list.html", {"users": users, "form": form})


@require_capability("user.manage")
def user_edit(request, pk: int):
    """Change a user's role, or deactivate / reactivate the account."""
    target = get_object_or_404(User, pk=pk)
    form = UserRoleForm(request.POST or None, initial={"role": target.role, "is_active": target.is_active})
    if request.method == "POST" and form.is_valid():
        try:
            user_set_role(actor=request.user, user=target, role=form.cleaned_data["role"],
                          is_active=form.cleaned_data["is_active"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("accounts:users")
    return render(request, "accounts/user_edit.html", {"target": target, "form": form})


@require_capability("token.manage")
def token_list(request):
    """List the API tokens and create one; its secret is shown once, in the answer to the creation."""
    form = TokenCreateForm(request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        try:
            _token, raw = api_token_create(
                actor=request.user, user=request.user, name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=timezone.now() + timedelta(days=days) if days else None)
        except DomainError as exc:
            form_error(form, exc)
        else:
            form = TokenCreateForm()
    tokens = ApiToken.objects.select_related("user")
    return render(request, "accounts/token_list.html",
                  {"tokens": tokens, "form": form, "raw_token": raw, "now": timezone.now()})


@require_POST
@require_capability("token.manage")
def token_revoke(request, pk: int):
    """Revoke a token at once."""
    token = get_object_or_404(ApiToken, pk=pk)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("Token revoked."))
    return redirect("accounts:tokens")


@require_capability("audit.view")
def audit_log(request):
    """List audit entries, newest first, filtered by actor, action and object (id, number or name)."""
    entries = AuditEntry.objects.select_related("actor")
    actor, action, obj = (request.GET.get(k, "").strip() for k in ("actor", "action", "object"))
    if actor:
        entries = entries.filter(actor__username=actor)
    if action:
        entries = entries.filter(action=action) if "." in action else entries.filter(action__startswith=action)
    if obj:
        entries = entries.filter(Q(object_id=obj) | Q(object_repr__icontains=obj))
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    # The codes recorded so far, named in the viewer's language (the code is the value the filter sends).
    codes = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    actions = sorted(((code, action_label(code)) for code in codes), key=lambda pair: pair[1])
    query = urlencode({k: v for k, v in (("actor", actor), ("action", action), ("object", obj)) if v})
    return render(request, "accounts/audit_log.html", {
        "page": page, "actor": actor, "action": action, "object": obj, "actions": actions, "query": query,
        "actors": User.objects.order_by("username").values_list("username", flat=True),
    })


def language_set(request):
    """Switch the page language (Django's set_language) and remember it for a signed-in user."""
    response = set_language(request)
    language = request.POST.get("language", "")
    # Only the languages the site offers (check_for_language also accepts codes it merely has catalogues for).
    if (request.method == "POST" and request.user.is_authenticated and check_for_language(language)
            and language in dict(settings.LANGUAGES)):
        user_set_language(user=request.user, language=language)
    return response

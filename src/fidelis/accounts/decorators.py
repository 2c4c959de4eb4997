"""View decorators: login, the capability of the role, and 404 for objects the user may not see."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect

from fidelis.accounts.permissions import CAPABILITIES, has_capability
from fidelis.core.errors import NotFound


def require_capability(capability: str) -> Callable:
    """Let the view run only for signed-in users whose role grants the capability (403 page otherwise)."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A fragment request after the session ended: send the whole page to the login form
                    # instead of swapping the login page into a table cell.
                    return HttpResponseClientRedirect(resolve_url(settings.LOGIN_URL))
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                return render(request, "web/403.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(str(exc.message)) from exc

        wrapper.required_capability = capability
        return wrapper

    return decorator

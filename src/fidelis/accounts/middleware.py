"""Keep the current request's IP address at hand for audit entries; load the signed-in user with its session."""

from contextvars import ContextVar

from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.utils.functional import SimpleLazyObject

from fidelis.accounts.backends import loading_session

current_ip: ContextVar[str | None] = ContextVar("current_ip", default=None)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_ip.set(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)


def _user(request):
    if not hasattr(request, "_cached_user"):
        token = loading_session.set(request.session)
        try:
            request._cached_user = auth.get_user(request)
        finally:
            loading_session.reset(token)
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with the user taken from the statement that read the session (see `fidelis.accounts.backends`)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))

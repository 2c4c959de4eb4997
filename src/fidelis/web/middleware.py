"""Chinese by default: pages ignore the browser's Accept-Language until the user picks a language."""

from django.conf import settings


class DefaultLanguageMiddleware:
    """Drop Accept-Language on pages (not the API) when no language was chosen, so LANGUAGE_CODE applies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/") and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)

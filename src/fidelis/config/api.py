"""The HTTP API (OpenAPI at /api/docs): one NinjaAPI, a router per app."""

from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI

api = NinjaAPI(
    title="Fidelis API",
    version="1",
    description=str(_("Customers, tags, consent and events for POS, shops and WeChat official accounts.")),
    urls_namespace="api",
)

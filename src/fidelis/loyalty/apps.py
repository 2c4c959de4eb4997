from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "fidelis.loyalty"
    label = "loyalty"
    verbose_name = _("Member club")

    def ready(self) -> None:
        from fidelis.loyalty import handlers, merge  # noqa: F401 - registers the event handlers and the merge hook

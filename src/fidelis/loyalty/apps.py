from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "fidelis.loyalty"
    label = "loyalty"
    verbose_name = _("Member club")

    def ready(self) -> None:
        from fidelis.loyalty import handlers, merge, personal_data  # noqa: F401 - event handlers, merge hook, data export

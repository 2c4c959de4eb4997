from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "fidelis.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from fidelis.sales import merge, personal_data  # noqa: F401 - registers the merge hook and data export part

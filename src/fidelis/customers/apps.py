from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "fidelis.customers"
    label = "customers"
    verbose_name = _("Customer archive")

    def ready(self) -> None:
        from fidelis.customers import rules  # noqa: F401 - registers the event handlers

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "fidelis.customers"
    label = "customers"
    verbose_name = _("Customer archive")

    def ready(self) -> None:
        from fidelis.customers import rules  # noqa: F401 - registers the event handlers

        autodiscover_modules("panels")  # the cards other apps add to the 360° page (fidelis.customers.panels)

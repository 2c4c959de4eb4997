from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkConfig(AppConfig):
    name = "fidelis.work"
    label = "work"
    verbose_name = _("Tasks and reminders")

    def ready(self) -> None:
        from fidelis.work import personal_data, rules  # noqa: F401 - data export part; follow-up and renewal handlers

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkConfig(AppConfig):
    name = "fidelis.work"
    label = "work"
    verbose_name = _("Tasks and reminders")

    def ready(self) -> None:
        from fidelis.work import rules  # noqa: F401 - registers the follow-up and contract renewal handlers

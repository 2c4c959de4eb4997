from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "fidelis.events"
    label = "events"
    verbose_name = _("Customer events")

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from fidelis.events import webhooks  # noqa: F401 - registers the webhook outbox handler

        # Each app's renderers of the timeline sentence (`events.lines`).
        autodiscover_modules("event_lines")

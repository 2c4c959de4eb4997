from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "fidelis.pipeline"
    label = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from fidelis.pipeline import merge, personal_data  # noqa: F401 - registers the merge hook and data export part

"""The Celery application; tasks run in-process when no broker is configured."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fidelis.config.settings")

app = Celery("fidelis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

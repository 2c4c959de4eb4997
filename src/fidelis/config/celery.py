"""The Celery application; tasks run in-process when no broker is configured."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fidelis.config.settings")

# A broker that is down or unreachable must not hold up the request that sends a message after its commit (such a
# message is best effort: the work is queued in the database, see `events.tasks.dispatch_pending_send`). Without
# these, a producer that finds no connection tries again and again for `broker_connection_timeout` (kombu sleeps 2,
# then 4 s between attempts: 6 s for each message, each time), Redis' client waits for the operating system's
# connect timeout (minutes for a host that drops packets) and waits for ever for an answer. Here a producer tries
# to connect twice, at once, for at most 2 s each, and a command waits 10 s at most (the worker's blocking reads use
# a 1 s timeout of their own, well within it). The worker's own reconnecting is set apart (broker_connection_retry
# and broker_connection_max_retries) and keeps retrying. Defaults that CELERY_BROKER_TRANSPORT_OPTIONS replaces.
BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "socket_connect_timeout": 2, "socket_timeout": 10}

app = Celery("fidelis", broker_transport_options=BROKER_TRANSPORT_OPTIONS)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""The Celery app. Configuration comes from Django settings (the CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("botdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes the connections before and after every task and, in a prefork pool process,
# the whole psycopg pool with them (celery.fixups.django): every task then opened new PostgreSQL connections,
# a server process started and the time zone set (a commit) for each, several per chat message. With a reuse
# count it keeps the pool (closing it every 2 × this many tasks, and after the fork as before); the receivers
# below still hand a task's connections back to the pool before and after it, where they are checked before
# they are used again (CONN_HEALTH_CHECKS), as a request's are.
app.conf.CELERY_DB_REUSE_MAX = 1000


@task_prerun.connect(weak=False, dispatch_uid="config.celery.connections_to_pool_before")
@task_postrun.connect(weak=False, dispatch_uid="config.celery.connections_to_pool_after")
def _connections_to_pool(sender=None, **kwargs) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # an eager task runs inside its caller's request or transaction: its connection is the caller's
    from django.db import close_old_connections

    close_old_connections()

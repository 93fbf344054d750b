from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from celery.signals import worker_process_shutdown, worker_shutdown

        from .services import events_flush

        # A worker that stops cleanly first hands over the events its handlers tracked.
        worker_process_shutdown.connect(lambda **kwargs: events_flush(), weak=False)
        worker_shutdown.connect(lambda **kwargs: events_flush(), weak=False)

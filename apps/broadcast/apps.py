from django.apps import AppConfig


class BroadcastConfig(AppConfig):
    name = "apps.broadcast"
    label = "broadcast"
    verbose_name = "Broadcasts"

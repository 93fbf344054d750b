from django.apps import AppConfig


class JourneyConfig(AppConfig):
    name = "apps.journey"
    label = "journey"
    verbose_name = "Hero's journey"

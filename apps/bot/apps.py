from django.apps import AppConfig


class BotConfig(AppConfig):
    name = "apps.bot"
    label = "bot"
    verbose_name = "Telegram bot"

    def ready(self) -> None:
        from . import signals  # noqa: F401

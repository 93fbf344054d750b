from django.core.signals import setting_changed
from django.dispatch import receiver

from . import runtime


@receiver(setting_changed)
def rebuild_bot_on_settings_change(*, setting: str, **kwargs: object) -> None:
    if setting in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL"):
        runtime.reset()

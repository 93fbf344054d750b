"""How the domain reaches Telegram without importing the bot: through the gateway module that the
TELEGRAM_GATEWAY setting names (the bot's `apps.bot.gateway`), handed over at call time, the way a
payment module is handed its provider. The domain stays below the integration; tests may name another."""

from importlib import import_module
from types import ModuleType

from django.conf import settings


def telegram_gateway() -> ModuleType:
    return import_module(settings.TELEGRAM_GATEWAY)

"""The language the bot speaks to a user (amounts read in it come from apps.core.money).

A user's language is the one they chose with /language (TelegramUser.bot_language), else the one their
Telegram app reports (language_code, mapped by BOT_LANGUAGE_BY_TELEGRAM_CODE), else BOT_DEFAULT_LANGUAGE.
Each update is handled with its user's language active (apps.bot.runtime), so every text the handlers and
flows produce meanwhile (static_text's lazy strings) is in it."""

from django.conf import settings
from django.utils import translation

from apps.users.models import TelegramUser


def bot_languages() -> dict[str, str]:
    """The languages the bot speaks: code → its own name."""
    return dict(settings.LANGUAGES)


def language_for_code(language_code: str | None) -> str:
    """The bot's language for a Telegram language_code ("ru", "uk", "en-US", "" …)."""
    code = (language_code or "").lower().replace("_", "-")
    mapping = settings.BOT_LANGUAGE_BY_TELEGRAM_CODE
    language = mapping.get(code) or mapping.get(code.split("-")[0])
    if language is None and code.split("-")[0] in bot_languages():
        language = code.split("-")[0]
    return language if language in bot_languages() else settings.BOT_DEFAULT_LANGUAGE


def user_language(user_id: int | None, language_code: str | None = None) -> str:
    """The language to answer this user in: their choice, else by `language_code` (what the update says)."""
    if user_id is not None:
        row = TelegramUser.objects.filter(pk=user_id).values_list("bot_language", "language_code").first()
        if row is not None:
            chosen, stored_code = row
            if chosen in bot_languages():
                return chosen
            language_code = language_code or stored_code
    return language_for_code(language_code)


def user_language_set(user_id: int, language: str) -> None:
    if language not in bot_languages():
        raise ValueError(f"the bot does not speak {language!r}")
    TelegramUser.objects.filter(pk=user_id).update(bot_language=language)


def language_name_in_english(language: str) -> str:
    """For the model's instructions: "Russian"."""
    info = translation.get_language_info(language)
    return info["name"]

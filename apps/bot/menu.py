"""The commands Telegram shows in the bot's menu, in each language the bot speaks (setMyCommands): the
default list in BOT_DEFAULT_LANGUAGE, and one per other language for users whose app is in it. /help lists
the same commands."""

from django.conf import settings
from django.utils import translation
from telegram import Bot, BotCommand

from . import static_text


def commands() -> list[tuple[str, str]]:
    """(command, description) in the active language, in the menu's order."""
    return [(name, str(description)) for name, description in static_text.COMMAND_DESCRIPTIONS.items()]


def menu(language: str) -> list[BotCommand]:
    with translation.override(language):
        return [BotCommand(name, description) for name, description in commands()]


def menu_languages() -> list[str | None]:
    """None: the default list (for every language without its own)."""
    return [None] + [code for code, _ in settings.LANGUAGES if code != settings.BOT_DEFAULT_LANGUAGE]


async def register_commands(bot: Bot) -> None:
    for language in menu_languages():
        await bot.set_my_commands(menu(language or settings.BOT_DEFAULT_LANGUAGE), language_code=language)

"""/language: the user chooses the language the bot speaks to them in (stored on the user; until then, the
one their Telegram app reports)."""

from django.utils import translation
from telegram import Update

from apps.bot import keyboards, static_text
from apps.bot.context import BotContext
from apps.bot.keyboards import LANGUAGE_PREFIX
from apps.bot.language import bot_languages, user_language_set
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer

from .answering import acknowledge, answer


async def choose_language(update: Update, context: BotContext) -> None:
    await answer(update, context, lambda: Answer([str(static_text.LANGUAGE_CHOOSE)], keyboards.languages()))


async def language_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await acknowledge(query)
    language = query.data.removeprefix(LANGUAGE_PREFIX)

    def switch() -> Answer | None:
        if language not in bot_languages():
            return None
        user_language_set(query.from_user.id, language)
        with translation.override(language):  # the confirmation is the first thing said in it
            return Answer([str(static_text.LANGUAGE_SET)], kind=ReplyKind.EDIT)

    await answer(update, context, switch)

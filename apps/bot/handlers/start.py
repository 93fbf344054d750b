from telegram import Update

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.replies import Answer

from .answering import answer
from .contact import start_payload


async def start(update: Update, context: BotContext) -> None:
    user = update.effective_user
    created = context.contact.created if context.contact else False
    source = start_payload(update)

    def welcome() -> Answer:
        track(Events.BOT_STARTED, user_id=user.id, properties={"is_new": created, "source": source})
        text = static_text.WELCOME_NEW if created else static_text.WELCOME_BACK
        return Answer([text.format(name=user.first_name or "there")])

    await answer(update, context, welcome)

from asgiref.sync import sync_to_async
from telegram import Update

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.bot import static_text
from apps.bot.context import BotContext

from .contact import start_payload


async def start(update: Update, context: BotContext) -> None:
    user = update.effective_user
    created = context.contact.created if context.contact else False
    await sync_to_async(track)(
        Events.BOT_STARTED, user_id=user.id, properties={"is_new": created, "source": start_payload(update)}
    )
    text = static_text.WELCOME_NEW if created else static_text.WELCOME_BACK
    await update.effective_message.reply_text(text.format(name=user.first_name or "there"), do_quote=False)

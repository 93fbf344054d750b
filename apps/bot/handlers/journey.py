from asgiref.sync import sync_to_async
from telegram import Update

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.journey.models import JourneyStage
from apps.users.selectors import user_journey_stage


async def journey(update: Update, context: BotContext) -> None:
    """Where the user stands on the hero's journey."""
    stage = await sync_to_async(user_journey_stage)(update.effective_user.id)
    if not stage:
        text = static_text.JOURNEY_UNKNOWN
    else:
        text = static_text.JOURNEY_STAGE.format(
            number=JourneyStage.position(stage) + 1, total=len(JourneyStage.values), stage=JourneyStage(stage).label
        )
    await update.effective_message.reply_text(text, do_quote=False)

from telegram import Update

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.replies import Answer
from apps.journey.models import JourneyStage
from apps.users.selectors import user_journey_stage

from .answering import answer


async def journey(update: Update, context: BotContext) -> None:
    """Where the user stands on the hero's journey."""

    def where() -> Answer:
        stage = user_journey_stage(update.effective_user.id)
        if not stage:
            return Answer([str(static_text.JOURNEY_UNKNOWN)])
        return Answer(
            [
                static_text.JOURNEY_STAGE.format(
                    number=JourneyStage.position(stage) + 1,
                    total=len(JourneyStage.values),
                    stage=static_text.JOURNEY_STAGES.get(stage, JourneyStage(stage).label),
                )
            ]
        )

    await answer(update, context, where)

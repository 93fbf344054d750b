"""/subscription: the user's subscription, cancelling it (asked first) and turning renewal back on while the
paid period lasts. Telegram is asked (editUserStarSubscription) before anything is recorded, once per update."""

from asgiref.sync import sync_to_async
from telegram import Update
from telegram.error import TelegramError

from apps.bot import static_text
from apps.bot.context import BotContext
from apps.bot.flows.account import (
    subscription_cancel_confirm,
    subscription_changed,
    subscription_charge_id,
    subscription_status,
)
from apps.bot.keyboards import SUBSCRIPTION_PREFIX
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer, reply_find

from .answering import acknowledge, answer

# The button's action: whether it cancels (True), renews (False) or changes nothing (None).
_CHANGES = {"cancel": True, "renew": False, "keep": None}


async def subscription(update: Update, context: BotContext) -> None:
    user_id = update.effective_user.id
    await answer(update, context, lambda: subscription_status(user_id))


async def subscription_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    user_id = query.from_user.id
    await acknowledge(query)
    action, _, ref = query.data.removeprefix(SUBSCRIPTION_PREFIX).partition(":")
    if not ref.isdigit() or action not in (*_CHANGES, "ask"):
        return
    subscription_id = int(ref)
    if action == "ask":
        await answer(update, context, lambda: subscription_cancel_confirm(user_id, subscription_id))
        return
    canceled = _CHANGES[action]
    if canceled is not None and await sync_to_async(reply_find)(update.update_id) is None:
        charge_id = await sync_to_async(subscription_charge_id)(user_id, subscription_id)
        if charge_id is not None:
            try:
                await context.bot.edit_user_star_subscription(user_id, charge_id, is_canceled=canceled)
            except TelegramError:
                refused = Answer([str(static_text.SUBSCRIPTION_NOT_CHANGED)], kind=ReplyKind.EDIT)
                await answer(update, context, lambda: refused)
                return
    await answer(update, context, lambda: subscription_changed(user_id, subscription_id, canceled=canceled))

"""/forget: a person erases everything Botdesk holds about them (apps.bot.flows.erase), told first what goes, what
stays and what they lose, and that a subscription of theirs is cancelled with it."""

from datetime import datetime, timedelta

from apps.billing.selectors import live_subscription
from apps.billing.services import get_user_balance
from apps.bot import keyboards, static_text
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer
from apps.core.money import credits_phrase
from apps.users.models import ErasureReceipt, TelegramUser

from .account import date_text
from .erase import SubscriptionCanceller, user_erase

REASON = "asked by the user with /forget"


def forget_question(user_id: int) -> Answer:
    """What erasing removes and keeps, the balance they lose and the subscription erasing cancels, with the
    buttons to erase or not."""
    parts = [static_text.FORGET_ASK.format(balance=credits_phrase(get_user_balance(user_id)))]
    subscription = live_subscription(user_id)
    if subscription is not None and not subscription.is_canceled:
        until = date_text(subscription.expires_at)
        parts.append(static_text.FORGET_SUBSCRIPTION.format(title=subscription.title, until=until))
    return Answer(["\n\n".join(parts)], keyboards.forget_confirm())


def forget_erase(user_id: int, *, asked_at: datetime | None, cancel_subscription: SubscriptionCanceller) -> str:
    """Erase the person who pressed "Erase everything" under the question sent at `asked_at` (None: Telegram no
    longer says), their subscription cancelled through `cancel_subscription` first; the text the question
    becomes. Raises SubscriptionNotCanceled, erasing nothing, when Telegram did not cancel it.

    Only the person who was asked is erased. A press of the question after the erase (a second press, the
    erasing update processed again) registers them anew, as any update of theirs does, after the question was
    sent: that new row is left alone, however many presses follow."""
    asked = TelegramUser.objects.filter(pk=user_id)
    if asked_at is not None:
        # Telegram dates the question to the second: a person registered in a later second was not asked.
        asked = asked.filter(registration_date__lt=asked_at + timedelta(seconds=1))
    if asked.exists():
        user_erase(user_id, reason=REASON, via=ErasureReceipt.Via.USER, cancel_subscription=cancel_subscription)
    return str(static_text.FORGET_DONE)


def forget_not_erased() -> Answer:
    """Telegram did not cancel their subscription: nothing was erased, and the question's buttons try again."""
    return Answer([str(static_text.FORGET_SUBSCRIPTION_NOT_CANCELED)], keyboards.forget_confirm(), kind=ReplyKind.EDIT)


def forget_kept() -> Answer:
    return Answer([str(static_text.FORGET_KEPT)], kind=ReplyKind.EDIT)

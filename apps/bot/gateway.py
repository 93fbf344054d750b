"""The one place that sends to Telegram outside a handler, over the bot's own loop: refunds and the Stars
ledger for billing, broadcasts for the broadcast app, cancelling a subscription before an erase. The domain
reaches it through the TELEGRAM_GATEWAY setting, never by import, and hears of failures only as
`apps.core.sending` errors."""

from datetime import timedelta

import httpx
from django.conf import settings
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TransactionPartner,
    TransactionPartnerUser,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from apps.broadcast.models import Broadcast
from apps.core import sending
from apps.core.gateway import StarTransaction

from . import runtime


def refund_star_payment(*, user_id: int, charge_id: str) -> None:
    """refundStarPayment, waiting TELEGRAM_REFUND_TIMEOUT seconds for the answer. Raises `sending.SendFailed`
    with what Telegram said when it refuses, `sending.Unconfirmed` when it did not answer in time (it may
    have refunded), and anything else for our own failure before the request."""
    try:
        runtime.run(
            lambda application: application.bot.refund_star_payment(
                user_id=user_id, telegram_payment_charge_id=charge_id, read_timeout=settings.TELEGRAM_REFUND_TIMEOUT
            )
        )
    except TelegramError as error:
        raise sending_error(error) from error


def star_transactions(*, offset: int = 0, limit: int = 100) -> list[StarTransaction]:
    """getStarTransactions: one page of the bot's Telegram Stars ledger. Raises `sending.SendFailed` when
    Telegram refuses or does not answer."""
    try:
        page = runtime.run(lambda application: application.bot.get_star_transactions(offset=offset, limit=limit))
    except TelegramError as error:
        raise sending_error(error) from error
    return [
        StarTransaction(
            id=transaction.id,
            amount=transaction.amount,
            date=transaction.date,
            outgoing=transaction.receiver is not None,
            user_id=_partner_user(transaction.receiver or transaction.source),
            invoice_payload=_invoice_payload(transaction.source),
        )
        for transaction in page.transactions
    ]


def star_subscription_cancel(*, user_id: int, charge_id: str) -> None:
    """editUserStarSubscription: Telegram stops renewing the user's subscription that `charge_id` (its first
    payment's) names. Raises `sending.SendFailed` when Telegram refuses or does not answer."""
    runtime.run(lambda application: star_subscription_cancel_by(application.bot, user_id=user_id, charge_id=charge_id))


async def star_subscription_cancel_by(bot: Bot, *, user_id: int, charge_id: str) -> None:
    """The same through `bot`: a handler's own, which is the stand-in's when "Try the bot" runs the handler."""
    try:
        await bot.edit_user_star_subscription(user_id, charge_id, is_canceled=True)
    except TelegramError as error:
        raise sending_error(error) from error


def _partner_user(partner: TransactionPartner | None) -> int | None:
    return partner.user.id if isinstance(partner, TransactionPartnerUser) else None


def _invoice_payload(partner: TransactionPartner | None) -> str:
    return (partner.invoice_payload or "") if isinstance(partner, TransactionPartnerUser) else ""


def warm_up() -> None:
    """Initialise the bot now (getMe), before senders start booking their slots."""
    runtime.run(_initialised)


async def _initialised(application: Application) -> None:
    return None


def broadcast_send(broadcast: Broadcast, chat_id: int, *, timeout: float | None = None) -> int:
    """The broadcast's message to one chat; returns its message_id. Raises `sending.SendFailed` for what
    Telegram answered (or did not), and anything else for our own failure before the request."""
    try:
        message = runtime.run(lambda application: _send_content(application.bot, broadcast, chat_id), timeout)
    except TelegramError as error:
        raise sending_error(error) from error
    return message.message_id


async def _send_content(bot: Bot, broadcast: Broadcast, chat_id: int) -> Message:
    """Photo with caption or text, HTML, URL buttons."""
    markup = (
        InlineKeyboardMarkup([[InlineKeyboardButton(b["text"], url=b["url"])] for b in broadcast.buttons])
        if broadcast.buttons
        else None
    )
    common = {"chat_id": chat_id, "parse_mode": ParseMode.HTML, "reply_markup": markup}
    if broadcast.paid:
        common["allow_paid_broadcast"] = True
    if broadcast.photo:
        return await bot.send_photo(photo=broadcast.photo, caption=broadcast.text, **common)
    return await bot.send_message(text=broadcast.text, **common)


def sending_error(error: TelegramError) -> sending.SendFailed:
    """What python-telegram-bot's error means for a message."""
    if isinstance(error, RetryAfter):
        return sending.RetryAfter(str(error), seconds=_seconds(error.retry_after))
    if isinstance(error, Forbidden):
        return sending.Blocked(str(error))
    if isinstance(error, BadRequest):
        return sending.Rejected(str(error))
    if isinstance(error, TimedOut) and not _never_left(error):
        return sending.Unconfirmed(str(error))
    return sending.SendFailed(str(error))


def _seconds(retry_after: int | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def _never_left(error: TimedOut) -> bool:
    """A timeout while connecting or waiting for a pooled connection: the request never reached Telegram."""
    return isinstance(error.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)

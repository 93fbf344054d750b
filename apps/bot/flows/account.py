"""What a user reads about their account: the balance with the operations they understand (/balance), and
what the bot does, its commands, their balance and how to top up (/help)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import dateformat, formats, timezone
from django.utils.text import capfirst

from apps.billing.models import Subscription
from apps.billing.selectors import StatementEntry, StatementKind, live_subscription, user_statement
from apps.billing.services import get_user_balance, subscription_set_canceled
from apps.bot import keyboards, static_text
from apps.bot.models import ReplyKind
from apps.bot.replies import Answer
from apps.core.money import amount_text, credits_phrase, credits_unit

STATEMENT_ENTRIES = 5

_LABELS = {
    StatementKind.TOPUP: static_text.STATEMENT_TOPUP,
    StatementKind.REFUND: static_text.STATEMENT_REFUND,
    StatementKind.REFUND_UNDONE: static_text.STATEMENT_REFUND_UNDONE,
    StatementKind.BONUS: static_text.STATEMENT_BONUS,
    StatementKind.ADJUSTMENT: static_text.STATEMENT_ADJUSTMENT,
    StatementKind.EXPIRY: static_text.STATEMENT_EXPIRY,
}
_LABELS_WITH_STARS = {
    StatementKind.TOPUP: static_text.STATEMENT_TOPUP_STARS,
    StatementKind.REFUND: static_text.STATEMENT_REFUND_STARS,
}


def balance_statement(user_id: int) -> Answer:
    """The balance and the latest operations, with the top-up button."""
    balance = get_user_balance(user_id)
    entries = user_statement(user_id, limit=STATEMENT_ENTRIES)
    head = static_text.BALANCE if entries else static_text.BALANCE_EMPTY
    lines = [head.format(balance=amount_text(balance), unit=credits_unit(balance))]
    if (subscription := live_subscription(user_id)) is not None:
        label = (
            static_text.BALANCE_SUBSCRIPTION_CANCELED if subscription.is_canceled else static_text.BALANCE_SUBSCRIPTION
        )
        lines.insert(0, label.format(title=subscription.title, until=date_text(subscription.expires_at)))
    lines += [statement_line(entry) for entry in entries]
    return Answer(["\n".join(lines)], keyboards.topup())


def help_answer(user_id: int, commands: list[tuple[str, str]]) -> Answer:
    """What the bot does, `commands` (the menu's: command, description), the balance and the top-up button."""
    listed = "\n".join(f"/{name} — {description}" for name, description in commands)
    balance = credits_phrase(get_user_balance(user_id))
    return Answer([static_text.HELP.format(commands=listed, balance=balance)], keyboards.topup())


def subscription_status(user_id: int) -> Answer:
    """/subscription: the live subscription, with the button to cancel it or to turn renewal back on."""
    subscription = live_subscription(user_id)
    if subscription is None:
        return Answer([str(static_text.SUBSCRIPTION_NONE)], keyboards.topup())
    return _subscription_answer(subscription, kind=ReplyKind.MESSAGE)


def _subscription_answer(subscription: Subscription, *, kind: str = ReplyKind.EDIT) -> Answer:
    invoice = subscription.invoice
    if subscription.is_canceled:
        text = static_text.SUBSCRIPTION_CANCELED.format(
            title=subscription.title, until=date_text(subscription.expires_at)
        )
        button = (static_text.SUBSCRIPTION_RENEW_BUTTON, keyboards.subscription_action("renew", subscription.pk))
    else:
        text = static_text.SUBSCRIPTION_ACTIVE.format(
            title=subscription.title,
            credits=credits_phrase(invoice.credits),
            stars=amount_text(invoice.stars, 0),
            until=date_text(subscription.expires_at),
        )
        button = (static_text.SUBSCRIPTION_CANCEL_BUTTON, keyboards.subscription_action("ask", subscription.pk))
    return Answer([text], keyboards.buttons([[button]]), kind=kind)


def subscription_cancel_confirm(user_id: int, subscription_id: int) -> Answer:
    """The question before cancelling, on the pressed message."""
    subscription = _live(user_id, subscription_id)
    if subscription is None:
        return Answer([str(static_text.SUBSCRIPTION_OVER)], kind=ReplyKind.EDIT)
    text = static_text.SUBSCRIPTION_CANCEL_CONFIRM.format(
        title=subscription.title, until=date_text(subscription.expires_at)
    )
    yes = (static_text.SUBSCRIPTION_CANCEL_YES, keyboards.subscription_action("cancel", subscription.pk))
    no = (static_text.SUBSCRIPTION_CANCEL_NO, keyboards.subscription_action("keep", subscription.pk))
    return Answer([text], keyboards.buttons([[yes, no]]), kind=ReplyKind.EDIT)


def subscription_charge_id(user_id: int, subscription_id: int) -> str | None:
    """What names the user's live subscription to Telegram (editUserStarSubscription), or None."""
    subscription = _live(user_id, subscription_id)
    return subscription.charge_id if subscription is not None else None


def subscription_changed(user_id: int, subscription_id: int, *, canceled: bool | None) -> Answer:
    """After Telegram accepted cancelling (or renewing) the subscription, record it and show its status;
    `canceled` None: nothing changed (the user kept it)."""
    if canceled is None:
        subscription = _live(user_id, subscription_id)
    else:
        subscription = subscription_set_canceled(subscription_id=subscription_id, user_id=user_id, canceled=canceled)
    if subscription is None:
        return Answer([str(static_text.SUBSCRIPTION_OVER)], kind=ReplyKind.EDIT)
    if canceled is False:
        text = static_text.SUBSCRIPTION_RENEWED.format(
            title=subscription.title, until=date_text(subscription.expires_at)
        )
        return Answer([text], kind=ReplyKind.EDIT)
    return _subscription_answer(subscription)


def _live(user_id: int, subscription_id: int) -> Subscription | None:
    subscription = Subscription.objects.filter(pk=subscription_id, user_id=user_id).select_related("invoice").first()
    return subscription if subscription is not None and subscription.is_live else None


def date_text(at) -> str:
    """3 December, or 3 December 2027 when not this year, in the active language."""
    at = timezone.localtime(at)
    return dateformat.format(at, "j E" if at.year == timezone.localdate().year else "j E Y")


def statement_line(entry: StatementEntry) -> str:
    """One line in the active language: Today at 14:05 — top-up for 50 ⭐: +100 credits."""
    return static_text.STATEMENT_LINE.format(
        when=capfirst(_when(entry)), what=_what(entry), amount=_signed(entry.amount)
    )


def _what(entry: StatementEntry) -> str:
    if entry.kind == StatementKind.ANSWERS:
        if entry.answers:
            return static_text.answers_charged(entry.answers)
        return static_text.voice_messages_transcribed(entry.heard)
    if entry.stars is not None and entry.kind in _LABELS_WITH_STARS:
        return _LABELS_WITH_STARS[entry.kind].format(stars=entry.stars)
    return str(_LABELS[entry.kind])


def _when(entry: StatementEntry) -> str:
    """The day (today, yesterday, 3 December, 3 December 2025) and, for one operation, the time."""
    at = timezone.localtime(entry.at)
    today = timezone.localdate()
    if at.date() == today:
        day = str(static_text.TODAY)
    elif at.date() == today - timedelta(days=1):
        day = str(static_text.YESTERDAY)
    else:
        day = dateformat.format(at, "j E" if at.year == today.year else "j E Y")
    if entry.answers > 1 or entry.heard > 1:  # answers over the day: the time of the last one says little
        return day
    return static_text.STATEMENT_DAY_AT.format(day=day, time=formats.time_format(at))


def _signed(amount: Decimal) -> str:
    sign = "+" if amount > 0 else "−" if amount < 0 else ""
    return sign + credits_phrase(abs(amount))  # a tiny charge shows to its first digits, rather than "0"

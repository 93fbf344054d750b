"""What a user reads about their account: the balance with the operations they understand (/balance), and
what the bot does, its commands, their balance and how to top up (/help)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import dateformat, formats, timezone
from django.utils.text import capfirst

from apps.billing.selectors import StatementEntry, StatementKind, user_statement
from apps.billing.services import get_user_balance
from apps.bot import keyboards, static_text
from apps.bot.language import amount_text, credits_phrase, credits_unit
from apps.bot.replies import Answer

STATEMENT_ENTRIES = 5

_LABELS = {
    StatementKind.TOPUP: static_text.STATEMENT_TOPUP,
    StatementKind.REFUND: static_text.STATEMENT_REFUND,
    StatementKind.REFUND_UNDONE: static_text.STATEMENT_REFUND_UNDONE,
    StatementKind.BONUS: static_text.STATEMENT_BONUS,
    StatementKind.ADJUSTMENT: static_text.STATEMENT_ADJUSTMENT,
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
    lines += [statement_line(entry) for entry in entries]
    return Answer(["\n".join(lines)], keyboards.topup())


def help_answer(user_id: int, commands: list[tuple[str, str]]) -> Answer:
    """What the bot does, `commands` (the menu's: command, description), the balance and the top-up button."""
    listed = "\n".join(f"/{name} — {description}" for name, description in commands)
    balance = credits_phrase(get_user_balance(user_id))
    return Answer([static_text.HELP.format(commands=listed, balance=balance)], keyboards.topup())


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
    places = 4 if amount and amount_text(amount) == "0" else 2  # a tiny charge shows, rather than "0"
    sign = "+" if amount > 0 else "−" if amount < 0 else ""
    return sign + credits_phrase(abs(amount), places)

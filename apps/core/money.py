"""Amounts as people read them, in the active language: credits with the decimals that matter, dollars with
their sign, Stars with theirs, thousands separated (1,234.5 in English, 1 234,5 in Russian). For people only:
the API and exports keep plain decimal strings.

The bot activates its user's language for every update; the admin runs in LANGUAGE_CODE."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats
from django.utils.translation import ngettext

# The finest amount of credits there is (the ledger's four places) and of dollars (the price table's eight):
# an amount that rounds to nothing at the usual places shows down to these instead of "0".
CREDIT_PLACES = 4
USD_PLACES = 8


def _rounded(value: Decimal | int | str, places: int, finest: int) -> Decimal:
    """`value` to `places` decimals; a non-zero one too small for them to two significant digits, at most
    `finest` places."""
    value = Decimal(value)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value and not rounded:
        places = min(finest, max(places, -value.adjusted() + 1))
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded


def _number(value: Decimal, *, min_places: int = 0) -> str:
    """Without trailing zeros beyond `min_places`, grouped in thousands with the language's separators."""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    text = formats.number_format(
        Decimal(f"{whole}.{fraction}" if fraction else whole), use_l10n=True, force_grouping=True
    )
    return f"-{text}" if value < 0 else text


def amount_text(value: Decimal | int | str, places: int = 2) -> str:
    """An amount of credits: 19.99 / 19,99, 12.5, 1,000, at most `places` decimals and no trailing zeros; a
    tiny non-zero one as 0.004 rather than 0."""
    return _number(_rounded(value, places, CREDIT_PLACES))


def credits_unit(value: Decimal | int | str) -> str:
    """The word for credits that goes with this amount: 1 credit, 5 credits; 1 кредит, 3 кредита, 5 кредитов,
    and for a fraction 0,5 кредита (as every other language counts a fraction: the form of 2)."""
    amount = abs(Decimal(value))
    count = int(amount) if amount == amount.to_integral_value() else 2
    return ngettext("credit", "credits", count)


def credits_phrase(value: Decimal | int | str, places: int = 2) -> str:
    """19.99 credits / 19,99 кредита; the word agrees with the amount shown."""
    shown = _rounded(value, places, CREDIT_PLACES)
    return f"{_number(shown)} {credits_unit(shown)}"


def usd_text(value: Decimal | int | str, places: int = 2) -> str:
    """Dollars: $1,234.56, -$0.50, $0.00; a non-zero amount under a cent to two significant digits, $0.000036."""
    rounded = _rounded(value, places, USD_PLACES)
    text = _number(abs(rounded), min_places=places)
    return f"-${text}" if rounded < 0 else f"${text}"


def count_text(value: int) -> str:
    """A count, thousands separated: 12,345 / 12 345."""
    return _number(Decimal(value))


def stars_text(value: Decimal | int) -> str:
    """Telegram Stars: 50 ⭐, 1,500 ⭐."""
    return f"{_number(Decimal(value))} ⭐"

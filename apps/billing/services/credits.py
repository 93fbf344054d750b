"""Amounts in credits: how they are rounded and how people read them."""

from decimal import ROUND_HALF_UP, Decimal

from apps.core.money import amount_text

# What credits are rounded to: four places, as the models store them (decimal_places=4).
CREDIT_PRECISION = Decimal("0.0001")


def as_credits(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CREDIT_PRECISION, rounding=ROUND_HALF_UP)


def credits_text(value: Decimal) -> str:
    """An amount as people read it, to the ledger's precision: 100, 12.5, 0.16, 1,250 (never 1E+2 or 100.0000)."""
    return amount_text(value, places=4)

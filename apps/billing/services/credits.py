"""Amounts in credits: how they are rounded and how people read them."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.0001")


def as_credits(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def credits_text(value: Decimal) -> str:
    """An amount as people read it: 100, 12.5, 0.16 (never 1E+2 or 100.0000)."""
    text = f"{Decimal(value).quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

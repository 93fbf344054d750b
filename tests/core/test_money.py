"""Amounts as people read them (apps/core/money.py), in English and in Russian."""

from decimal import Decimal

import pytest
from django.utils import translation

from apps.core.money import amount_text, credits_phrase, stars_text, usd_text

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("value", "english", "russian"),
    [
        ("9.58330000000000", "9.58", "9,58"),
        ("100.0000", "100", "100"),
        ("12.50", "12.5", "12,5"),
        ("1234.5", "1,234.5", f"1{NBSP}234,5"),
        ("-3", "-3", "-3"),
        ("0", "0", "0"),
        ("-0.0000", "0", "0"),
        ("0.0036", "0.0036", "0,0036"),  # a tiny charge shows rather than 0
        ("0.00001", "0", "0"),  # below the ledger's precision
    ],
)
def test_credits_with_the_decimals_that_matter_and_thousands_separated(value, english, russian):
    for language, text in (("en", english), ("ru", russian)):
        with translation.override(language):
            assert amount_text(Decimal(value)) == text, language


@pytest.mark.parametrize(
    ("value", "language", "text"),
    [
        ("1", "en", "1 credit"),
        ("1.004", "en", "1 credit"),  # the word agrees with the amount shown
        ("2500", "en", "2,500 credits"),
        ("21", "ru", "21 кредит"),
        ("3", "ru", "3 кредита"),
        ("0.5", "ru", "0,5 кредита"),
        ("1000", "ru", f"1{NBSP}000 кредитов"),
    ],
)
def test_credits_phrase_agrees_with_the_amount_shown(value, language, text):
    with translation.override(language):
        assert credits_phrase(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1234.5634", "$1,234.56"),
        ("1.378", "$1.38"),
        ("-0.5", "-$0.50"),
        ("0", "$0.00"),
        ("0.00003600", "$0.000036"),  # under a cent: two significant digits
        ("-0.0035", "-$0.0035"),
        ("1000000", "$1,000,000.00"),
    ],
)
def test_dollars_with_their_sign_to_the_cent(value, text):
    with translation.override("en"):
        assert usd_text(Decimal(value)) == text


def test_stars_with_their_sign():
    with translation.override("en"):
        assert (stars_text(50), stars_text(1500)) == ("50 ⭐", "1,500 ⭐")
    with translation.override("ru"):
        assert stars_text(1500) == f"1{NBSP}500 ⭐"

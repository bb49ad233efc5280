"""Amounts as people type them, stored exactly in minor units, and shown as people read them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.errors import InvalidInput
from bot.services.money import (
    format_money,
    format_sums,
    parse_amount,
    plain_amount,
    to_minor,
)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("150000", "150000", None),
        ("150 000", "150000", None),
        ("150\u00a0000", "150000", None),
        ("150k", "150000", None),
        ("150К", "150000", None),
        ("150 тыс.", "150000", None),
        ("150 тыс. руб", "150000", "RUB"),
        ("1,5 млн", "1500000", None),
        ("1.5m", "1500000", None),
        ("1,5M ₽", "1500000", "RUB"),
        ("2 500,50 ₽", "2500.50", "RUB"),
        ("2500.5", "2500.50", None),
        ("12,5", "12.50", None),
        ("$1,200.50", "1200.50", "USD"),
        ("1.234.567,89", "1234567.89", None),
        ("1,234,567.89", "1234567.89", None),
        ("1 000 000", "1000000", None),
        ("1.500", "1500", None),  # a thousands group, not one and a half
        ("1,500 млн", "1500000", None),  # with a multiplier, a fraction
        ("2 млрд", "2000000000", None),
        ("100 usd", "100", "USD"),
        ("100 €", "100", "EUR"),
        ("150k₽", "150000", "RUB"),
        ("99 cny", "99", "CNY"),
        ("0,005", "0.01", None),  # rounded half up to kopecks
    ],
)
def test_parse_amount_understands_how_people_type_money(text, amount, currency):
    assert parse_amount(text) == (Decimal(amount), currency)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "0", "0,00", "-5", "1e5", "1,2,3", "12,34,5", "1.2.3,4.5", "150 apples", "k", "₽"],
)
def test_parse_amount_refuses_anything_else(text):
    with pytest.raises(InvalidInput):
        parse_amount(text)


def test_a_trillion_is_a_typo():
    with pytest.raises(InvalidInput, match="too large"):
        parse_amount("99999999999999")


@given(st.integers(min_value=1, max_value=99_999_999_999_999))
def test_what_is_shown_reads_back_as_the_same_amount(minor):
    """An amount shown in full (either language) or as typed back is parsed to the same kopeck."""
    for shown in (
        format_money(minor, "RUB", "ru"),
        format_money(minor, "RUB", "en"),
        plain_amount(minor),
    ):
        amount, _currency = parse_amount(shown)
        assert to_minor(amount) == minor, shown


def test_money_reads_as_people_read_it():
    assert format_money(120_000_000, "RUB", "ru", compact=True) == "1,2\u00a0млн\u00a0₽"
    assert format_money(120_000_000, "RUB", "en", compact=True) == "1.2M\u00a0₽"
    assert format_money(250_050, "RUB", "ru") == "2\u00a0500,50\u00a0₽"
    assert format_money(250_000, "USD", "en") == "2,500\u00a0$"
    assert format_money(99_900, "RUB", "ru", compact=True) == "999\u00a0₽"
    assert format_sums({}, "en", "RUB") == "0\u00a0₽"
    assert (
        format_sums({"USD": 500_000, "RUB": 10_000_000}, "en", "RUB")
        == "100K\u00a0₽ + 5,000\u00a0$"
    )

"""Amounts shown and typed in the currency's own decimals, never through a float."""

from __future__ import annotations

import pytest

from dashboard_service.domain.money import InvalidAmount, format_amount, parse_amount
from dashboard_service.domain.times import parse_time, shown


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (1050, "EUR", "10.50 EUR"),
        (-1234, "EUR", "-12.34 EUR"),
        (5, "EUR", "0.05 EUR"),
        (123456789, "USD", "1\u2009234\u2009567.89 USD"),
        (500, "JPY", "500 JPY"),
        (1500, "KWD", "1.500 KWD"),
    ],
)
def test_amounts_are_shown_in_major_units_of_their_currency(
    minor: int, currency: str, expected: str
) -> None:
    assert format_amount(minor, currency) == expected


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12,5", "EUR", 1250),
        ("7", "EUR", 700),
        ("0.01", "EUR", 1),
        ("300", "JPY", 300),
        ("1.005", "KWD", 1005),
    ],
)
def test_typed_amounts_become_exact_minor_units(typed: str, currency: str, minor: int) -> None:
    assert parse_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency", "says"),
    [
        ("12.505", "EUR", "at most 2 decimals"),
        ("1.5", "JPY", "no decimals"),
        ("0", "EUR", "more than zero"),
        ("-3", "EUR", "such as 12.50"),
        ("12 EUR", "EUR", "without the currency"),
        ("1e3", "EUR", "such as"),
    ],
)
def test_amounts_a_person_could_mistype_are_refused_with_a_reason(
    typed: str, currency: str, says: str
) -> None:
    with pytest.raises(InvalidAmount, match=says):
        parse_amount(typed, currency)


def test_api_times_are_read_as_utc_and_shown_to_the_second() -> None:
    assert shown("2026-12-01T14:03:07.123456Z") == "2026-12-01 14:03:07 UTC"
    assert shown("2026-12-01T15:03:07+01:00") == "2026-12-01 14:03:07 UTC"
    assert parse_time("not a time") is None and shown(None) == ""

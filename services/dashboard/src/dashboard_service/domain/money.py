"""Amounts as people read and type them: the API's integer minor units, shown in major units.

The exponent is ISO 4217's: most currencies have two decimals, a few none (JPY) or three (KWD).
A typed amount is parsed exactly (no floats): "10.5" EUR is 1050, "10.505" EUR is refused.
"""

from __future__ import annotations

import re
from typing import Final

ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
THREE_DECIMAL: Final = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
_TYPED = re.compile(r"^(\d{1,15})(?:[.,](\d{1,3}))?$")


class InvalidAmount(ValueError):
    """A typed amount that is not a positive number with the currency's decimals at most."""


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


def format_amount(minor: int, currency: str) -> str:
    """``-1234`` EUR is ``-12.34 EUR``; thousands are grouped with a thin space."""
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    grouped = f"{whole:,}".replace(",", "\u2009")
    number = f"{grouped}.{fraction:0{places}d}" if places else grouped
    return f"{sign}{number} {currency}"


def major_units(minor: int, currency: str) -> str:
    """The amount as it would be typed back into a form: ``1050`` EUR is ``10.50``."""
    places = exponent(currency)
    whole, fraction = divmod(minor, 10**places)
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)


def parse_amount(typed: str, currency: str) -> int:
    """Minor units of a typed amount in ``currency``."""
    match = _TYPED.match(typed.strip())
    if match is None:
        raise InvalidAmount("Type an amount such as 12.50, without the currency.")
    whole, fraction = str(match[1]), str(match[2] or "")
    places = exponent(currency)
    if len(fraction) > places:
        allowed = "no decimals" if places == 0 else f"at most {places} decimals"
        raise InvalidAmount(f"{currency} amounts have {allowed}.")
    minor: int = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    if minor < 1:
        raise InvalidAmount("The amount must be more than zero.")
    return minor

"""Parsing the settlement rules operators configure: minimum payouts and test bank accounts.

Pure functions, so settings, tests and documentation agree on one reading of each format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

DEFAULT_BANK_ACCOUNT: Final = "acct_success"
_CURRENCY = re.compile(r"^(?:[A-Z]{3}|\*)$")


@dataclass(frozen=True)
class MinimumPayouts:
    """The smallest net a batch pays out, per currency (``*`` for the rest), in minor units.

    A batch below its minimum stays open and is carried forward to the next run.
    """

    by_currency: Mapping[str, int] = field(default_factory=dict)
    otherwise: int = 1

    def for_currency(self, currency: str) -> int:
        return self.by_currency.get(currency, self.otherwise)


def parse_minimum_payouts(text: str) -> MinimumPayouts:
    """``EUR=1000,USD=1000,*=1``: whole minor units of at least 1 per currency."""
    by_currency: dict[str, int] = {}
    otherwise = 1
    for part in (p.strip() for p in text.split(",") if p.strip()):
        currency, sep, amount = part.partition("=")
        currency = currency.strip()
        if not sep or not _CURRENCY.match(currency) or not amount.strip().isdigit():
            raise ValueError(f"expected CUR=minor units (or *=minor units); got {part!r}")
        value = int(amount)
        if value < 1:
            raise ValueError(f"a minimum payout is at least 1 minor unit; got {part!r}")
        if currency == "*":
            otherwise = value
        else:
            by_currency[currency] = value
    return MinimumPayouts(by_currency, otherwise)


@dataclass(frozen=True)
class BankAccounts:
    """Which (test) bank account each merchant is paid into; the simulator decides by it.

    A key ending in ``*`` names every merchant whose id starts with what comes before it (the
    longest such prefix wins; an exact id wins over any prefix), so test runs can give a family
    of fresh merchants one outcome without knowing their ids in advance.
    """

    by_merchant: Mapping[str, str] = field(default_factory=dict)
    default: str = DEFAULT_BANK_ACCOUNT

    def for_merchant(self, merchant_id: str) -> str:
        if merchant_id in self.by_merchant:
            return self.by_merchant[merchant_id]
        prefixes = [
            key[:-1]
            for key in self.by_merchant
            if key.endswith("*") and merchant_id.startswith(key[:-1])
        ]
        if not prefixes:
            return self.default
        return self.by_merchant[max(prefixes, key=len) + "*"]


def parse_bank_accounts(text: str) -> BankAccounts:
    """``MER_a=acct_closed,MER_b=acct_invalid,MER_silent_*=acct_silent``; a merchant not
    named gets ``acct_success``."""
    by_merchant: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        merchant, sep, account = part.rpartition("=")
        if not sep or not merchant.strip() or not account.strip():
            raise ValueError(f"expected MERCHANT=bank account; got {part!r}")
        by_merchant[merchant.strip()] = account.strip()
    return BankAccounts(by_merchant)

"""The platform's fee on a payment: a percentage in basis points plus a fixed amount, per currency.

Rounding: the percentage part is rounded half up to a whole minor unit in integer arithmetic
(``(amount * bps + 5000) // 10000``), then the fixed part is added, and the fee is capped at the
amount, so the merchant's share is never negative. Refunds do not return the fee (README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

BASIS_POINTS: Final = 10_000
ANY_CURRENCY: Final = "*"


@dataclass(frozen=True)
class FeeRule:
    basis_points: int = 0
    fixed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.basis_points <= BASIS_POINTS or self.fixed < 0:
            raise ValueError(f"a fee is 0..10000 basis points plus a fixed amount >= 0: {self}")

    def fee_for(self, amount: int) -> int:
        percentage = (amount * self.basis_points + BASIS_POINTS // 2) // BASIS_POINTS
        return min(amount, percentage + self.fixed)

    def describe(self) -> str:
        return f"{self.basis_points}+{self.fixed}"


@dataclass(frozen=True)
class FeePolicy:
    rules: Mapping[str, FeeRule] = field(default_factory=dict)
    default: FeeRule = FeeRule()

    def rule_for(self, currency: str) -> FeeRule:
        return self.rules.get(currency, self.default)

    def fee_for(self, amount: int, currency: str) -> int:
        return self.rule_for(currency).fee_for(amount)


def parse_fee_policy(text: str) -> FeePolicy:
    """``EUR=250+25,USD=290+30,*=0+0``: basis points + fixed minor units per currency."""
    rules: dict[str, FeeRule] = {}
    default = FeeRule()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        currency, sep, terms = item.partition("=")
        bps, plus, fixed = terms.partition("+")
        currency = currency.strip()
        valid_currency = currency == ANY_CURRENCY or (len(currency) == 3 and currency.isupper())
        if not (sep and plus and valid_currency and bps.strip().isdigit()):
            raise ValueError(f"fee rule {item!r}: write CUR=<basis points>+<fixed minor units>")
        if not fixed.strip().isdigit():
            raise ValueError(f"fee rule {item!r}: the fixed part is whole minor units")
        rule = FeeRule(int(bps), int(fixed))
        if currency == ANY_CURRENCY:
            default = rule
        else:
            rules[currency] = rule
    return FeePolicy(rules, default)

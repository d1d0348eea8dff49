"""The chart of accounts, created on demand per merchant and currency.

Codes are the names everyone sees (events, API, reports); each one fixes the account's type,
normal side, whether it may go negative, and whether it is hot (sharded sub-balances).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ledger_service.domain.errors import UnknownAccount


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


PSP_CLEARING: Final = "psp_clearing"
PLATFORM_FEES: Final = "platform:fees"
BANK_PAYOUTS: Final = "bank:payouts"
MERCHANT_ACCOUNT_KINDS: Final = ("escrow", "payable", "receivable")

# Merchant ids may hold ':' themselves; the kind is always the last part. A code is an event
# identifier (at most 128 characters), so a merchant id may have at most 107.
_MERCHANT_CODE = re.compile(
    r"merchant:(?P<merchant>[A-Za-z0-9][A-Za-z0-9_.:-]*):(?P<kind>escrow|payable|receivable)"
)
MAX_CODE_LENGTH: Final = 128


@dataclass(frozen=True)
class AccountSpec:
    code: str
    type: AccountType
    merchant_id: str | None = None
    never_negative: bool = False
    # Sub-balances summed on read; one for every account since balances are applied under the
    # chain lock (README, hot accounts). Kept in the schema for ledgers that have more.
    shards: int = 1

    @property
    def normal_side(self) -> Side:
        debit_normal = self.type in (AccountType.ASSET, AccountType.EXPENSE)
        return Side.DEBIT if debit_normal else Side.CREDIT


PLATFORM_ACCOUNTS: Final = {
    # What the PSP owes the platform: captured, not yet settled to the bank.
    PSP_CLEARING: AccountSpec(PSP_CLEARING, AccountType.ASSET),
    # The platform's revenue from fees.
    PLATFORM_FEES: AccountSpec(PLATFORM_FEES, AccountType.REVENUE),
    # The platform's payout bank account: credited as money leaves to merchants.
    BANK_PAYOUTS: AccountSpec(BANK_PAYOUTS, AccountType.ASSET),
}


def escrow(merchant_id: str) -> str:
    return merchant_account(merchant_id, "escrow")


def payable(merchant_id: str) -> str:
    return merchant_account(merchant_id, "payable")


def receivable(merchant_id: str) -> str:
    return merchant_account(merchant_id, "receivable")


def merchant_account(merchant_id: str, kind: str) -> str:
    if kind not in MERCHANT_ACCOUNT_KINDS:
        raise UnknownAccount(f"no merchant account kind {kind!r}")
    code = f"merchant:{merchant_id}:{kind}"
    spec_for(code)  # refuses a merchant id too long to name its accounts
    return code


def spec_for(code: str) -> AccountSpec:
    """The account a code names; anything outside the chart is refused."""
    if code in PLATFORM_ACCOUNTS:
        return PLATFORM_ACCOUNTS[code]
    match = _MERCHANT_CODE.fullmatch(code)
    if match is None or len(code) > MAX_CODE_LENGTH:
        raise UnknownAccount(f"{code!r} is not an account of the chart")
    merchant, kind = match["merchant"], match["kind"]
    if kind == "receivable":
        # What the merchant owes the platform (a refund after the money was paid out).
        return AccountSpec(code, AccountType.ASSET, merchant_id=merchant)
    # Held for the merchant (escrow) or on its way out (payable): never below zero.
    return AccountSpec(code, AccountType.LIABILITY, merchant_id=merchant, never_negative=True)


def merchant_of(code: str) -> str | None:
    return spec_for(code).merchant_id

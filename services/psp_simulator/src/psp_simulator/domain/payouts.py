"""Payouts as the simulated bank makes them: one per batch attempt, decided by the account.

Like a charge, a payout's outcome is decided when it is requested but shows only at
`decided_at`: until then it is `pending` everywhere, and the outcome's webhook is due then.
No process has to wake up to flip a status, and every reader agrees on what it sees.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from psp_simulator.domain.errors import BankUnavailable


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BankOutcome:
    status: PayoutStatus
    failure_code: str | None = None
    failure_message: str | None = None
    # False: the bank pays but never says so; only a re-check (GET) reveals it.
    sends_webhook: bool = True


UNAVAILABLE_ACCOUNT: Final = "acct_unavailable"
PAID: Final = BankOutcome(PayoutStatus.PAID)
OUTCOMES_BY_ACCOUNT: Final[Mapping[str, BankOutcome]] = {
    "acct_closed": BankOutcome(
        PayoutStatus.FAILED, "account_closed", "The beneficiary's bank account is closed."
    ),
    "acct_invalid": BankOutcome(
        PayoutStatus.FAILED, "invalid_account", "The bank account number is not valid."
    ),
    "acct_silent": BankOutcome(PayoutStatus.PAID, sends_webhook=False),
}


def bank_outcome_for(bank_account: str) -> BankOutcome:
    """What the bank does with a payout to this test account; every unlisted account is paid."""
    if bank_account == UNAVAILABLE_ACCOUNT:
        raise BankUnavailable("the bank is unavailable; nothing was done, try again")
    return OUTCOMES_BY_ACCOUNT.get(bank_account, PAID)


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    batch_id: str
    attempt: int
    merchant_id: str
    amount: int
    currency: str
    bank_account: str
    outcome: PayoutStatus
    failure_code: str | None
    failure_message: str | None
    created_at: float
    decided_at: float

    def __post_init__(self) -> None:
        if self.outcome is PayoutStatus.PENDING:
            raise ValueError("a payout's outcome is final: paid or failed")
        if (self.failure_code is None) != (self.outcome is PayoutStatus.PAID):
            raise ValueError("a failed payout needs a failure code, a paid one has none")
        if self.amount <= 0 or self.attempt < 1:
            raise ValueError("a payout has a positive amount and an attempt from 1")

    def is_decided_at(self, now: float) -> bool:
        return now >= self.decided_at

    def status_at(self, now: float) -> PayoutStatus:
        return self.outcome if self.is_decided_at(now) else PayoutStatus.PENDING

    @property
    def webhook_type(self) -> str:
        return "payout.paid" if self.outcome is PayoutStatus.PAID else "payout.failed"

    @property
    def webhook_event_id(self) -> str:
        """What the receiver dedupes by: a payout has one outcome, so type and id name it."""
        return f"{self.webhook_type}:{self.id}"


def payout_webhook_body(payout: Payout, occurred_at: str) -> dict[str, Any]:
    return {
        "type": payout.webhook_type,
        "payout_id": payout.id,
        "batch_id": payout.batch_id,
        "attempt": payout.attempt,
        "merchant_id": payout.merchant_id,
        "amount": payout.amount,
        "currency": payout.currency,
        "failure_code": payout.failure_code,
        "failure_message": payout.failure_message,
        "occurred_at": occurred_at,
    }

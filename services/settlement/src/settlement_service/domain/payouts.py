"""A payout attempt of a batch, as the bank and the platform see it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PayoutStatus(StrEnum):
    """``requested``: recorded, the bank's answer not yet; ``pending``: the bank accepted it."""

    REQUESTED = "requested"
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (PayoutStatus.PAID, PayoutStatus.FAILED)


@dataclass(frozen=True)
class PayoutRequest:
    """What the bank is asked to pay; ``<batch_id>:<attempt>`` is its idempotency key."""

    batch_id: str
    attempt: int
    merchant_id: str
    amount: int
    currency: str
    bank_account: str

    @property
    def idempotency_key(self) -> str:
        return f"{self.batch_id}:{self.attempt}"


@dataclass(frozen=True)
class BankPayout:
    """The bank's own record of a payout: what decides, whatever a webhook said."""

    id: str
    batch_id: str
    attempt: int
    status: PayoutStatus
    amount: int
    currency: str
    failure_code: str | None = None
    failure_message: str | None = None

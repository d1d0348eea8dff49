"""Charges and refunds as the provider keeps them.

An outcome is decided when the charge is made but only becomes visible at `settles_at`: until
then the charge answers `processing`, which is what a caller must be built to wait out. Storing
the decision instead of a status means no process has to wake up to flip it, and every reader
(any web worker, the janitor's GET) agrees on what it sees at a given moment.
"""

from dataclasses import dataclass, replace
from enum import StrEnum

from psp_simulator.domain.errors import ChargeNotRefundable, RefundExceedsCharge


class Status(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Charge:
    id: str
    reference: str
    amount: int
    currency: str
    payment_method: str
    outcome: Status
    failure_code: str | None
    created_at: float
    settles_at: float
    refunded_amount: int = 0

    def __post_init__(self) -> None:
        if self.outcome is Status.PROCESSING:
            raise ValueError("a charge's outcome is final: succeeded or failed")
        if (self.failure_code is None) != (self.outcome is Status.SUCCEEDED):
            raise ValueError("a failed charge needs a failure code, a succeeded one has none")
        if not 0 <= self.refunded_amount <= self.amount:
            raise ValueError("refunded amount must lie between zero and the charged amount")

    def status_at(self, now: float) -> Status:
        return self.outcome if now >= self.settles_at else Status.PROCESSING

    def failure_code_at(self, now: float) -> str | None:
        return self.failure_code if now >= self.settles_at else None

    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount

    def refund(
        self, *, refund_id: str, reference: str, amount: int, now: float, settles_at: float
    ) -> tuple["Charge", "Refund"]:
        """The refund and the charge as it stands after it, or why the charge cannot take it.

        Every refund counts against the charge from the moment it is accepted, not when it
        settles: two refunds in flight must not both be measured against the full amount.
        """
        if amount <= 0:
            raise ValueError("a refund amount must be positive")
        status = self.status_at(now)
        if status is not Status.SUCCEEDED:
            raise ChargeNotRefundable(self.id, status.value)
        if amount > self.refundable_amount():
            raise RefundExceedsCharge(self.id, amount, self.refundable_amount())
        refund = Refund(
            id=refund_id,
            charge_id=self.id,
            payment_reference=self.reference,
            reference=reference,
            amount=amount,
            currency=self.currency,
            created_at=now,
            settles_at=settles_at,
        )
        return replace(self, refunded_amount=self.refunded_amount + amount), refund


@dataclass(frozen=True, slots=True)
class Refund:
    """Refunds of a succeeded charge always succeed here; their outcome still arrives late."""

    id: str
    charge_id: str
    payment_reference: str
    reference: str
    amount: int
    currency: str
    created_at: float
    settles_at: float

    def status_at(self, now: float) -> Status:
        return Status.SUCCEEDED if now >= self.settles_at else Status.PROCESSING

"""The payment and its state machine.

Every legal transition is listed in ``PAYMENT_TRANSITIONS``; anything else raises
``IllegalTransition``. Two more moves exist only as corrections, listed in
``PAYMENT_CORRECTIONS``: when the PSP's own record contradicts a final status (a failure reported
before the success, a success reported for a declined card), the payment takes the PSP's outcome
and the event says which status it overturns (``corrected_from``). A correction that would undo
money already moved on (a refunded payment the PSP says failed) is not made: it is a
``PspContradiction`` for people.

Refunds are reserved while the PSP works on them, so the sum of refunds in flight and refunds
done can never exceed the captured amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payment_service.domain.errors import (
    IllegalTransition,
    PaymentNotRefundable,
    PspContradiction,
    RefundExceedsCaptured,
)
from payment_service.domain.ids import new_payment_id
from payment_service.domain.psp import PspStatus
from payment_service.domain.recheck import Recheck

__all__ = ["Payment", "PaymentStatus", "StatusChange", "new_payment_id"]


class PaymentStatus(StrEnum):
    CREATED = "created"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


S = PaymentStatus
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.CREATED: frozenset({S.PROCESSING, S.CANCELED}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Only on the PSP's own record (its POST answer or GET), never on a webhook report alone.
PAYMENT_CORRECTIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.FAILED: frozenset({S.SUCCEEDED}),
    S.SUCCEEDED: frozenset({S.FAILED}),
}
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
CHARGED = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})
FINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED, S.PARTIALLY_REFUNDED, S.REFUNDED})


@dataclass(frozen=True)
class StatusChange:
    """One step the payment took; ``corrected_from`` is set on a correction."""

    status: PaymentStatus
    corrected_from: PaymentStatus | None = None


@dataclass
class Payment:
    id: str
    merchant_id: str
    amount: int
    currency: str
    payment_method: str
    status: PaymentStatus = PaymentStatus.CREATED
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    refunded_amount: int = 0
    pending_refund_amount: int = 0
    psp_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    recheck: Recheck = field(default_factory=Recheck)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def _move(self, target: PaymentStatus) -> None:
        if target not in PAYMENT_TRANSITIONS[self.status]:
            raise IllegalTransition("payment", self.status, target)
        self.status = target

    def start_processing(self, psp_reference: str | None) -> None:
        self._move(S.PROCESSING)
        self.psp_reference = psp_reference or self.psp_reference

    def succeed(self, psp_reference: str | None = None) -> None:
        self._move(S.SUCCEEDED)
        self.psp_reference = psp_reference or self.psp_reference

    def fail(self, code: str, message: str | None = None) -> None:
        self._move(S.FAILED)
        self.failure_code, self.failure_message = code, message

    def cancel(self) -> None:
        self._move(S.CANCELED)

    def _correct(self, target: PaymentStatus) -> StatusChange:
        if target not in PAYMENT_CORRECTIONS.get(self.status, frozenset()):
            raise IllegalTransition("payment", self.status, target)
        before, self.status = self.status, target
        return StatusChange(target, corrected_from=before)

    def follow_psp(
        self, status: PspStatus, failure_code: str | None, *, correct: bool
    ) -> list[StatusChange]:
        """Move to where the PSP says the charge is; the steps taken, oldest first.

        A status the payment is already at or past changes nothing. With ``correct`` (the
        PSP's own record), a final status it contradicts is corrected; without, it is left.
        """
        changes: list[StatusChange] = []
        if self.status is S.CREATED and status in (PspStatus.SUCCEEDED, PspStatus.FAILED):
            self.start_processing(None)
            changes.append(StatusChange(S.PROCESSING))
        if status is PspStatus.PROCESSING and self.status is S.CREATED:
            self.start_processing(None)
            changes.append(StatusChange(S.PROCESSING))
        elif status is PspStatus.SUCCEEDED:
            changes += self._follow_success(correct)
        elif status is PspStatus.FAILED:
            changes += self._follow_failure(failure_code or "psp_declined", correct)
        elif status is PspStatus.CANCELED:
            changes += self._follow_cancellation(correct)
        return changes

    def _follow_success(self, correct: bool) -> list[StatusChange]:
        if self.status is S.PROCESSING:
            self.succeed()
            return [StatusChange(S.SUCCEEDED)]
        if self.status is S.FAILED and correct:
            change = self._correct(S.SUCCEEDED)
            self.failure_code = self.failure_message = None
            return [change]
        if self.status is S.CANCELED and correct:
            raise PspContradiction(f"the PSP charged {self.id}, which was canceled")
        return []

    def _follow_failure(self, failure_code: str, correct: bool) -> list[StatusChange]:
        if self.status is S.PROCESSING:
            self.fail(failure_code)
            return [StatusChange(S.FAILED)]
        if self.status in CHARGED and correct:
            if self.status is not S.SUCCEEDED or self.pending_refund_amount:
                raise PspContradiction(
                    f"the PSP failed {self.id}, which is {self.status} with refunds under way"
                    " or made"
                )
            change = self._correct(S.FAILED)
            self.failure_code = failure_code
            return [change]
        return []

    def _follow_cancellation(self, correct: bool) -> list[StatusChange]:
        if self.status is S.CREATED:
            self.cancel()
            return [StatusChange(S.CANCELED)]
        if self.status is not S.CANCELED and correct:
            raise PspContradiction(f"the PSP canceled {self.id}, which is {self.status}")
        return []

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def refundable_amount(self) -> int:
        if self.status not in REFUNDABLE:
            return 0
        return self.amount - self.refunded_amount - self.pending_refund_amount

    def reserve_refund(self, amount: int) -> None:
        """Hold ``amount`` for a refund the PSP has not confirmed yet."""
        if self.status not in REFUNDABLE:
            raise PaymentNotRefundable(f"a {self.status} payment cannot be refunded")
        if amount <= 0:
            raise RefundExceedsCaptured("a refund amount must be positive")
        if amount > self.refundable_amount:
            raise RefundExceedsCaptured(
                f"refund of {amount} exceeds the {self.refundable_amount} left to refund"
            )
        self.pending_refund_amount += amount

    def complete_refund(self, amount: int) -> None:
        """The PSP returned ``amount``: it moves from pending to refunded."""
        refunded = self.refunded_amount + amount
        target = S.REFUNDED if refunded == self.amount else S.PARTIALLY_REFUNDED
        if target not in PAYMENT_TRANSITIONS[self.status]:
            raise IllegalTransition("payment", self.status, target)
        self._release(amount)
        self.refunded_amount = refunded
        self._move(target)

    def release_refund(self, amount: int) -> None:
        """The PSP refused a refund: the reserved amount is refundable again."""
        self._release(amount)

    def _release(self, amount: int) -> None:
        if not 0 < amount <= self.pending_refund_amount:
            raise RefundExceedsCaptured(
                f"{amount} is not reserved for a refund (reserved: {self.pending_refund_amount})"
            )
        self.pending_refund_amount -= amount

    def facts(self) -> dict[str, Any]:
        """The fields every payment.* event carries."""
        return {
            "payment_id": self.id,
            "merchant_id": self.merchant_id,
            "amount": self.amount,
            "currency": self.currency,
        }

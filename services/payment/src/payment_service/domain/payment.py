"""The payment and its state machine.

Every legal transition is listed in ``PAYMENT_TRANSITIONS``; anything else raises
``IllegalTransition``. Refunds are reserved while the PSP works on them, so the sum of refunds
in flight and refunds done can never exceed the captured amount.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payment_service.domain.errors import (
    IllegalTransition,
    PaymentNotRefundable,
    RefundExceedsCaptured,
)


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
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})


def new_payment_id() -> str:
    return f"PAY_{secrets.token_urlsafe(18)}"


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

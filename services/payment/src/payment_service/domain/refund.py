"""A refund: requested by the merchant, then confirmed or refused by the PSP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payment_service.domain.errors import IllegalTransition, PspContradiction
from payment_service.domain.ids import new_refund_id
from payment_service.domain.psp import PspStatus
from payment_service.domain.recheck import Recheck

__all__ = ["Refund", "RefundStatus", "new_refund_id"]


class RefundStatus(StrEnum):
    """A refund stays ``requested`` while the PSP works on it (its id is kept once known)."""

    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


R = RefundStatus
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    R.REQUESTED: frozenset({R.SUCCEEDED, R.FAILED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
}
_OUTCOMES = {PspStatus.SUCCEEDED: R.SUCCEEDED, PspStatus.FAILED: R.FAILED}


@dataclass
class Refund:
    id: str
    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    status: RefundStatus = RefundStatus.REQUESTED
    reason: str | None = None
    psp_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    recheck: Recheck = field(default_factory=Recheck)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def _move(self, target: RefundStatus) -> None:
        if target not in REFUND_TRANSITIONS[self.status]:
            raise IllegalTransition("refund", self.status, target)
        self.status = target

    def accepted_by_psp(self, psp_reference: str) -> None:
        self.psp_reference = psp_reference

    def succeed(self, psp_reference: str | None = None) -> None:
        self._move(R.SUCCEEDED)
        self.psp_reference = psp_reference or self.psp_reference

    def fail(self, code: str, message: str | None = None) -> None:
        self._move(R.FAILED)
        self.failure_code, self.failure_message = code, message

    @property
    def final(self) -> bool:
        return self.status is not R.REQUESTED

    def outcome_of(self, status: PspStatus, *, correct: bool) -> RefundStatus | None:
        """The outcome the PSP's status brings, or None when it brings nothing new.

        No correction is made for refunds: with ``correct`` (the PSP's own record), a final
        outcome the PSP contradicts is a ``PspContradiction`` for people.
        """
        target = _OUTCOMES.get(status)
        if target is None or target is self.status:
            return None
        if self.status is R.REQUESTED:
            return target
        if correct:
            raise PspContradiction(f"the PSP says refund {self.id} {status}; it is {self.status}")
        return None

    def facts(self) -> dict[str, Any]:
        return {
            "refund_id": self.id,
            "payment_id": self.payment_id,
            "merchant_id": self.merchant_id,
            "amount": self.amount,
            "currency": self.currency,
        }

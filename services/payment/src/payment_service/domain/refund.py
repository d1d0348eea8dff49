"""A refund: requested by the merchant, then confirmed or refused by the PSP."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from payment_service.domain.errors import IllegalTransition


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


def new_refund_id() -> str:
    return f"RFD_{secrets.token_urlsafe(18)}"


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

    def facts(self) -> dict[str, Any]:
        return {
            "refund_id": self.id,
            "payment_id": self.payment_id,
            "merchant_id": self.merchant_id,
            "amount": self.amount,
            "currency": self.currency,
        }

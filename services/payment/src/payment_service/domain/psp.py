"""What the PSP says: its statuses, and its own records of a charge and a refund.

These are the provider's facts, the source of truth whenever a webhook report is missing a
field, contradicts what the platform holds, or cannot be verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PspStatus(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def final(self) -> bool:
        return self is not PspStatus.PROCESSING


@dataclass(frozen=True)
class ChargeRecord:
    """A charge as the PSP keeps it (its POST answer or its GET)."""

    id: str
    reference: str
    amount: int
    currency: str
    status: PspStatus
    failure_code: str | None = None


@dataclass(frozen=True)
class RefundRecord:
    """A refund as the PSP keeps it."""

    id: str
    charge_id: str
    reference: str
    amount: int
    currency: str
    status: PspStatus
    failure_code: str | None = None

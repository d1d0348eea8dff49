"""Settlement batches: their states, their totals and the rule that closes or carries them.

The closing rule: at a run, a merchant's open batch in a currency (its carried-forward items
plus the items newly eligible) closes when its net reaches the currency's minimum payout.
Otherwise it stays open and is carried forward: ``not_positive`` when the net is zero or less
(the merchant owes the platform: the refunds were taken from escrow or recorded as receivable
when they happened, and the next closing nets them), ``below_minimum`` when it is positive but
smaller than the minimum.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class BatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    SUBMITTED = "submitted"
    PAID = "paid"
    FAILED = "failed"


# The database enforces the same table (settlement_batch_transitions); this one lets the service
# answer 409 before it tries.
TRANSITIONS: frozenset[tuple[BatchStatus, BatchStatus]] = frozenset(
    {
        (BatchStatus.OPEN, BatchStatus.CLOSED),
        (BatchStatus.CLOSED, BatchStatus.SUBMITTED),
        (BatchStatus.SUBMITTED, BatchStatus.PAID),
        (BatchStatus.SUBMITTED, BatchStatus.FAILED),
        (BatchStatus.FAILED, BatchStatus.SUBMITTED),
    }
)


def can_move(source: BatchStatus, target: BatchStatus) -> bool:
    return (source, target) in TRANSITIONS


class CarryReason(StrEnum):
    NOT_POSITIVE = "not_positive"
    BELOW_MINIMUM = "below_minimum"


@dataclass(frozen=True)
class Totals:
    """gross: the payments' A; fee: their F; reversed and fee_returned: the A and F of the
    payments the PSP overturned, which the ledger took back (so their fee comes back too)."""

    item_count: int
    gross_amount: int
    refunded_amount: int
    fee_amount: int
    period_start: datetime | None
    reversed_amount: int = 0
    fee_returned_amount: int = 0

    @property
    def net_amount(self) -> int:
        return (
            self.gross_amount
            - self.refunded_amount
            - self.fee_amount
            - self.reversed_amount
            + self.fee_returned_amount
        )


def carry_reason(totals: Totals, minimum_payout: int) -> CarryReason | None:
    """Why the batch stays open at this run; None when it closes."""
    if totals.net_amount <= 0:
        return CarryReason.NOT_POSITIVE
    if totals.net_amount < minimum_payout:
        return CarryReason.BELOW_MINIMUM
    return None


def batch_id_for(merchant_id: str, currency: str, opened_cutoff: datetime) -> str:
    """Derived from what opened it, so a repeated run names the same batch."""
    seed = f"{merchant_id}\x1f{currency}\x1f{opened_cutoff.isoformat()}"
    return "stb_" + hashlib.sha256(seed.encode()).hexdigest()[:32]

"""The provider's daily settlement report: what it settled each UTC day, line by line.

A capture settles when its charge succeeds and a refund when it succeeds (`settles_at`), so
each belongs to the UTC day of that moment. The provider's processing fee per line is a flat
rate in basis points of a capture (rounded half up), nothing on a refund; 0 by default.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

from psp_simulator.domain.charges import Charge, Refund, Status

BASIS_POINTS: Final = 10_000
REPORT_COLUMNS: Final = (
    "record_type",
    "payment_id",
    "refund_id",
    "amount",
    "currency",
    "psp_fee",
    "occurred_at",
)


class RecordType(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class ReportLine:
    record_type: RecordType
    psp_id: str  # the provider's charge or refund id: the tie-breaker of the order
    payment_id: str
    refund_id: str | None
    amount: int
    currency: str
    psp_fee: int
    occurred_at: float


def settlement_day(moment: float) -> date:
    return datetime.fromtimestamp(moment, UTC).date()


def day_bounds(day: date) -> tuple[float, float]:
    """[start, end) of a UTC day, in epoch seconds."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return start, start + 86_400


def processing_fee(amount: int, fee_bps: int) -> int:
    return (amount * fee_bps + BASIS_POINTS // 2) // BASIS_POINTS


def report_lines(
    charges: Iterable[Charge], refunds: Iterable[Refund], *, day: date, now: float, fee_bps: int
) -> list[ReportLine]:
    """The lines of `day` settled by `now`, in order of settlement then id."""
    start, end = day_bounds(day)

    def settled_that_day(moment: float) -> bool:
        return start <= moment < end and moment <= now

    lines = [
        ReportLine(
            RecordType.CAPTURE,
            charge.id,
            charge.reference,
            None,
            charge.amount,
            charge.currency,
            processing_fee(charge.amount, fee_bps),
            charge.settles_at,
        )
        for charge in charges
        if charge.outcome is Status.SUCCEEDED and settled_that_day(charge.settles_at)
    ]
    lines.extend(
        ReportLine(
            RecordType.REFUND,
            refund.id,
            refund.payment_reference,
            refund.reference,
            refund.amount,
            refund.currency,
            0,
            refund.settles_at,
        )
        for refund in refunds
        if settled_that_day(refund.settles_at)
    )
    return sorted(lines, key=lambda line: (line.occurred_at, line.psp_id))

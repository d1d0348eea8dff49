"""A batch's report: every item it pays out, and totals a merchant can check against the batch.

The totals are summed from the items themselves, not copied from the batch, so a report whose
totals differ from the batch's would show a batch that does not add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from psycopg_pool import ConnectionPool

from settlement_service.adapters.batch_reads import BatchReads
from settlement_service.adapters.batches_repository import BatchesRepository
from settlement_service.domain.errors import BatchNotFound

ITEM_FIELDS: Final = (
    "item_id",
    "kind",
    "payment_id",
    "refund_id",
    "gross_amount",
    "fee_amount",
    "net_amount",
    "ledger_transaction_id",
    "effective_at",
)
BATCH_FIELDS: Final = (
    "id",
    "merchant_id",
    "currency",
    "status",
    "period_start",
    "period_end",
    "attempt",
    "item_count",
    "gross_amount",
    "refunded_amount",
    "fee_amount",
    "reversed_amount",
    "fee_returned_amount",
    "net_amount",
)


@dataclass(frozen=True)
class Totals:
    """As the batch totals them: fee is the payments' fees; a reversal's A and the fee it
    returns are reversed and fee_returned."""

    gross_amount: int
    refunded_amount: int
    fee_amount: int
    reversed_amount: int
    fee_returned_amount: int
    net_amount: int
    item_count: int

    def as_json(self) -> dict[str, int]:
        return {
            "gross_amount": self.gross_amount,
            "refunded_amount": self.refunded_amount,
            "fee_amount": self.fee_amount,
            "reversed_amount": self.reversed_amount,
            "fee_returned_amount": self.fee_returned_amount,
            "net_amount": self.net_amount,
            "item_count": self.item_count,
        }


@dataclass(frozen=True)
class BatchReport:
    batch: dict[str, Any]
    items: list[dict[str, Any]]
    totals: Totals

    def as_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "items": self.items, "totals": self.totals.as_json()}


def totals_of(items: list[dict[str, Any]]) -> Totals:
    def summed(column: str, *kinds: str) -> int:
        return sum(int(i[column]) for i in items if i["kind"] in kinds)

    return Totals(
        gross_amount=summed("gross_amount", "payment"),
        refunded_amount=summed("gross_amount", "refund"),
        fee_amount=summed("fee_amount", "payment", "refund"),
        reversed_amount=summed("gross_amount", "reversal"),
        fee_returned_amount=summed("fee_amount", "reversal"),
        net_amount=sum(int(i["net_amount"]) for i in items),
        item_count=len(items),
    )


def batch_report(pool: ConnectionPool, batch_id: str, merchant_id: str | None) -> BatchReport:
    """``merchant_id``: the reader's own batches only (another's is not found); None: any."""
    with pool.connection() as conn:
        batch = BatchesRepository(conn).get(batch_id)
        if batch is None or (merchant_id is not None and batch["merchant_id"] != merchant_id):
            raise BatchNotFound(f"no batch {batch_id}")
        rows = BatchReads(conn).items(batch_id)
    items = [{"item_id": row["id"], **{k: row[k] for k in ITEM_FIELDS[1:]}} for row in rows]
    return BatchReport({k: batch[k] for k in BATCH_FIELDS}, items, totals_of(items))

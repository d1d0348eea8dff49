"""Settlement runs, batches and their items in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from psycopg.rows import dict_row

from paykit.db import Connection
from settlement_service.domain.batches import BatchStatus, CarryReason, Totals

# pg_advisory_xact_lock key of "close batches": one run at a time, whichever process runs it.
CLOSE_LOCK: Final = 0x5E771E


class LedgerMove(Enum):
    RECORDED = "recorded"
    RECORDED_BEFORE = "recorded_before"
    UNKNOWN_BATCH = "unknown_batch"
    CONTRADICTS_BATCH = "contradicts_batch"


@dataclass(frozen=True)
class BatchRow:
    id: str
    merchant_id: str
    currency: str
    status: BatchStatus
    attempt: int
    net_amount: int


BATCH_COLUMNS: Final = (
    "id, merchant_id, currency, status, item_count, gross_amount, refunded_amount, fee_amount,"
    " reversed_amount, fee_returned_amount, net_amount, period_start, period_end,"
    " opened_cutoff, closed_cutoff,"
    " carried_forward_reason, attempt, ledger_moved_at, created_at, updated_at"
)


class BatchesRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_for_closing(self) -> None:
        """Held to the end of the transaction: a second closer waits, then finds the run."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (CLOSE_LOCK,))

    def run_exists(self, cutoff: datetime) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM settlement_runs WHERE cutoff = %s", (cutoff,)
        ).fetchone()
        return row is not None

    def add_run(self, cutoff: datetime, eligible_before: datetime, triggered_by: str) -> None:
        self.conn.execute(
            "INSERT INTO settlement_runs (cutoff, eligible_before, triggered_by)"
            " VALUES (%s, %s, %s)",
            (cutoff, eligible_before, triggered_by),
        )

    def groups_to_settle(self, eligible_before: datetime) -> list[tuple[str, str]]:
        """Every merchant and currency with an open batch or an eligible item in no batch."""
        rows = self.conn.execute(
            "SELECT merchant_id, currency FROM settlement_items i"
            " WHERE effective_at < %s"
            " AND NOT EXISTS (SELECT 1 FROM settlement_batch_items b WHERE b.item_id = i.id)"
            " UNION SELECT merchant_id, currency FROM settlement_batches WHERE status = 'open'"
            " ORDER BY 1, 2",
            (eligible_before,),
        ).fetchall()
        return [(str(m), str(c)) for m, c in rows]

    def open_batch(self, merchant_id: str, currency: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM settlement_batches"
            " WHERE merchant_id = %s AND currency = %s AND status = 'open'",
            (merchant_id, currency),
        ).fetchone()
        return None if row is None else str(row[0])

    def create_open_batch(
        self, batch_id: str, merchant_id: str, currency: str, cutoff: datetime
    ) -> None:
        self.conn.execute(
            "INSERT INTO settlement_batches (id, merchant_id, currency, opened_cutoff)"
            " VALUES (%s, %s, %s, %s)",
            (batch_id, merchant_id, currency, cutoff),
        )

    def add_eligible_items(
        self, batch_id: str, merchant_id: str, currency: str, eligible_before: datetime
    ) -> int:
        """Put the merchant's eligible items that are in no batch into this one; how many.

        An item committed while this runs is either seen here or left for the next run; the
        unique item_id makes a second batch for it impossible either way.
        """
        cursor = self.conn.execute(
            "INSERT INTO settlement_batch_items (batch_id, item_id, merchant_id, currency)"
            " SELECT %s, i.id, i.merchant_id, i.currency FROM settlement_items i"
            " WHERE i.merchant_id = %s AND i.currency = %s AND i.effective_at < %s"
            " AND NOT EXISTS (SELECT 1 FROM settlement_batch_items b WHERE b.item_id = i.id)"
            " ON CONFLICT (item_id) DO NOTHING",
            (batch_id, merchant_id, currency, eligible_before),
        )
        return cursor.rowcount

    def totals(self, batch_id: str) -> Totals:
        row = self.conn.execute(
            "SELECT count(*),"
            " coalesce(sum(gross_amount) FILTER (WHERE kind = 'payment'), 0),"
            " coalesce(sum(gross_amount) FILTER (WHERE kind = 'refund'), 0),"
            " coalesce(sum(fee_amount) FILTER (WHERE kind <> 'reversal'), 0), min(effective_at),"
            " coalesce(sum(gross_amount) FILTER (WHERE kind = 'reversal'), 0),"
            " coalesce(sum(fee_amount) FILTER (WHERE kind = 'reversal'), 0)"
            " FROM settlement_batch_items b JOIN settlement_items i ON i.id = b.item_id"
            " WHERE b.batch_id = %s",
            (batch_id,),
        ).fetchone()
        assert row is not None
        return Totals(
            int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4], int(row[5]), int(row[6])
        )

    def carry_forward(self, batch_id: str, totals: Totals, reason: CarryReason) -> None:
        self.conn.execute(
            "UPDATE settlement_batches SET item_count = %s, gross_amount = %s,"
            " refunded_amount = %s, fee_amount = %s, reversed_amount = %s,"
            " fee_returned_amount = %s, net_amount = %s, period_start = %s,"
            " carried_forward_reason = %s WHERE id = %s",
            (*_totals(totals), reason.value, batch_id),
        )

    def close(
        self, batch_id: str, totals: Totals, cutoff: datetime, eligible_before: datetime
    ) -> None:
        self.conn.execute(
            "UPDATE settlement_batches SET status = 'closed', item_count = %s,"
            " gross_amount = %s, refunded_amount = %s, fee_amount = %s, reversed_amount = %s,"
            " fee_returned_amount = %s, net_amount = %s, period_start = %s, period_end = %s,"
            " closed_cutoff = %s,"
            " carried_forward_reason = NULL WHERE id = %s",
            (*_totals(totals), eligible_before, cutoff, batch_id),
        )

    def closed_at(self, cutoff: datetime) -> list[dict[str, Any]]:
        return self._select("WHERE closed_cutoff = %s ORDER BY id", cutoff)

    def open_since(self, cutoff: datetime) -> list[dict[str, Any]]:
        return self._select("WHERE status = 'open' AND opened_cutoff <= %s ORDER BY id", cutoff)

    def get(self, batch_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        rows = self._select("WHERE id = %s" + (" FOR UPDATE" if for_update else ""), batch_id)
        return rows[0] if rows else None

    def record_ledger_move(
        self, batch_id: str, merchant_id: str, currency: str, payout: int, at: datetime
    ) -> LedgerMove:
        """The ledger posted this batch's closing: its first payout may go. Once: a second
        announcement (a redelivery, a retry's posting) keeps the first time."""
        row = self.conn.execute(
            "SELECT merchant_id, currency, net_amount, ledger_moved_at FROM settlement_batches"
            " WHERE id = %s FOR UPDATE",
            (batch_id,),
        ).fetchone()
        if row is None:
            return LedgerMove.UNKNOWN_BATCH
        if (row[0], row[1], int(row[2])) != (merchant_id, currency, payout):
            return LedgerMove.CONTRADICTS_BATCH
        if row[3] is not None:
            return LedgerMove.RECORDED_BEFORE
        self.conn.execute(
            "UPDATE settlement_batches SET ledger_moved_at = %s WHERE id = %s", (at, batch_id)
        )
        return LedgerMove.RECORDED

    def awaiting_ledger(self, closed_before: datetime, limit: int) -> list[dict[str, Any]]:
        """Closed batches the ledger has not moved since before ``closed_before``: a closing the
        ledger refused (its DLQ) or one it has not posted yet."""
        return self._select(
            "WHERE status = 'closed' AND attempt = 0 AND ledger_moved_at IS NULL"
            " AND updated_at < %s ORDER BY updated_at LIMIT %s",
            closed_before,
            limit,
        )

    def move(self, batch_id: str, status: BatchStatus, *, attempt: int | None = None) -> None:
        """The database refuses an illegal change (settlement_batch_transitions)."""
        self.conn.execute(
            "UPDATE settlement_batches SET status = %s, attempt = coalesce(%s, attempt)"
            " WHERE id = %s",
            (status.value, attempt, batch_id),
        )

    def _select(self, where: str, *params: Any) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                f"SELECT {BATCH_COLUMNS} FROM settlement_batches {where}", params
            ).fetchall()


def _totals(totals: Totals) -> tuple[Any, ...]:
    return (
        totals.item_count,
        totals.gross_amount,
        totals.refunded_amount,
        totals.fee_amount,
        totals.reversed_amount,
        totals.fee_returned_amount,
        totals.net_amount,
        totals.period_start,
    )

"""Payout attempts in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from paykit.db import Connection
from settlement_service.domain.payouts import BankPayout, PayoutRequest

COLUMNS = (
    "batch_id, attempt, merchant_id, currency, amount, bank_account, status, bank_payout_id,"
    " failure_code, failure_message, requested_at, submitted_at, completed_at, next_check_at,"
    " check_count"
)


class PayoutsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request: PayoutRequest) -> None:
        self.conn.execute(
            "INSERT INTO settlement_payouts (batch_id, attempt, merchant_id, amount, currency,"
            " bank_account) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                request.batch_id,
                request.attempt,
                request.merchant_id,
                request.amount,
                request.currency,
                request.bank_account,
            ),
        )

    def get(
        self, batch_id: str, attempt: int, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                f"SELECT {COLUMNS} FROM settlement_payouts WHERE batch_id = %s AND attempt = %s"
                + lock,
                (batch_id, attempt),
            ).fetchone()

    def in_flight(self, batch_id: str) -> dict[str, Any] | None:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                f"SELECT {COLUMNS} FROM settlement_payouts WHERE batch_id = %s"
                " AND status IN ('requested', 'pending')",
                (batch_id,),
            ).fetchone()

    def of_batch(self, batch_id: str) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                f"SELECT {COLUMNS} FROM settlement_payouts WHERE batch_id = %s ORDER BY attempt",
                (batch_id,),
            ).fetchall()

    def mark_pending(self, payout: BankPayout, now: datetime, next_check_at: datetime) -> None:
        self.conn.execute(
            "UPDATE settlement_payouts SET status = 'pending', bank_payout_id = %s,"
            " submitted_at = %s, next_check_at = %s WHERE batch_id = %s AND attempt = %s",
            (payout.id, now, next_check_at, payout.batch_id, payout.attempt),
        )

    def complete(self, payout: BankPayout, now: datetime) -> None:
        self.conn.execute(
            "UPDATE settlement_payouts SET status = %s, bank_payout_id = %s,"
            " failure_code = %s, failure_message = %s, completed_at = %s"
            " WHERE batch_id = %s AND attempt = %s",
            (
                payout.status.value,
                payout.id,
                payout.failure_code,
                payout.failure_message,
                now,
                payout.batch_id,
                payout.attempt,
            ),
        )

    def check_later(self, batch_id: str, attempt: int, at: datetime) -> None:
        self.conn.execute(
            "UPDATE settlement_payouts SET next_check_at = %s, check_count = check_count + 1"
            " WHERE batch_id = %s AND attempt = %s",
            (at, batch_id, attempt),
        )

    def due(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        rows = self.conn.execute(
            "SELECT batch_id, attempt FROM settlement_payouts"
            " WHERE status IN ('requested', 'pending') AND next_check_at <= %s"
            " ORDER BY next_check_at LIMIT %s",
            (now, limit),
        ).fetchall()
        return [(str(b), int(a)) for b, a in rows]

    def closed_without_payout(self, limit: int) -> list[str]:
        """Closed batches the ledger moved to payable whose first payout was never requested."""
        rows = self.conn.execute(
            "SELECT id FROM settlement_batches WHERE status = 'closed' AND attempt = 0"
            " AND ledger_moved_at IS NOT NULL ORDER BY updated_at LIMIT %s",
            (limit,),
        ).fetchall()
        return [str(b) for (b,) in rows]

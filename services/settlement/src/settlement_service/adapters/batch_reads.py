"""What the read API shows: a merchant's batches, one batch with its items and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from paykit.db import Connection
from settlement_service.adapters.batches_repository import BATCH_COLUMNS


class BatchReads:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def page(
        self,
        merchant_id: str,
        *,
        status: str | None,
        currency: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Newest first; ``before`` is the (created_at, id) of the last row already shown."""
        where = [sql.SQL("merchant_id = %s")]
        params: list[Any] = [merchant_id]
        for clause, value in (
            ("status = %s", status),
            ("currency = %s", currency),
            ("created_at >= %s", created_from),
            ("created_at < %s", created_to),
        ):
            if value is not None:
                where.append(sql.SQL(clause))
                params.append(value)
        if before is not None:
            where.append(sql.SQL("(created_at, id) < (%s, %s)"))
            params.extend(before)
        query = sql.SQL(
            "SELECT {} FROM settlement_batches WHERE {} ORDER BY created_at DESC, id DESC LIMIT %s"
        ).format(sql.SQL(BATCH_COLUMNS), sql.SQL(" AND ").join(where))
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, [*params, limit]).fetchall()

    def items(self, batch_id: str) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                "SELECT i.id, i.kind, i.payment_id, i.refund_id, i.gross_amount, i.fee_amount,"
                " i.net_amount, i.effective_at, i.ledger_transaction_id"
                " FROM settlement_batch_items b JOIN settlement_items i ON i.id = b.item_id"
                " WHERE b.batch_id = %s ORDER BY i.effective_at, i.id",
                (batch_id,),
            ).fetchall()

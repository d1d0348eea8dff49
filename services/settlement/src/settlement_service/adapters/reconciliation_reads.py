"""The platform's side of a reconciliation: items and payout attempts, read in short calls.

Each call takes a connection of its own and gives it back at once, so no transaction stays open
while reconciliation asks the ledger, the PSP or the bank.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from settlement_service.service_layer.reconciliation_ports import PlatformPayout

_ITEM_COLUMNS: Final = (
    "id, ledger_transaction_id, merchant_id, currency, kind, payment_id, refund_id,"
    " gross_amount, fee_amount, net_amount, effective_at"
)
_PAYOUTS: Final = (
    "SELECT p.batch_id, p.attempt, p.merchant_id, p.currency, p.amount, p.status,"
    " p.bank_payout_id, b.status AS batch_status, b.net_amount AS batch_net_amount"
    " FROM settlement_payouts p JOIN settlement_batches b ON b.id = p.batch_id"
)


class PlatformRecordsInDatabase:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def _rows(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, params).fetchall()

    def items_effective(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT {_ITEM_COLUMNS} FROM settlement_items"
            " WHERE effective_at >= %s AND effective_at < %s ORDER BY effective_at, id",
            (start, end),
        )

    def items_of_payments(self, payment_ids: Iterable[str]) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT {_ITEM_COLUMNS} FROM settlement_items WHERE payment_id = ANY(%s)",
            (list(payment_ids),),
        )

    def payouts_requested(self, start: datetime, end: datetime) -> list[PlatformPayout]:
        rows = self._rows(
            _PAYOUTS + " WHERE p.requested_at >= %s AND p.requested_at < %s", (start, end)
        )
        return [PlatformPayout(**row) for row in rows]

    def payouts_of_batches(self, batch_ids: Iterable[str]) -> list[PlatformPayout]:
        rows = self._rows(_PAYOUTS + " WHERE p.batch_id = ANY(%s)", (list(batch_ids),))
        return [PlatformPayout(**row) for row in rows]

"""Settlement items in PostgreSQL."""

from __future__ import annotations

from paykit.db import Connection
from settlement_service.domain.items import Item


class ItemsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, item: Item) -> bool:
        """Record the item; False when its ledger transaction was itemised before."""
        row = self.conn.execute(
            "INSERT INTO settlement_items (id, ledger_transaction_id, source_event_id,"
            " merchant_id, currency, kind, payment_id, refund_id, gross_amount, fee_amount,"
            " net_amount, effective_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (ledger_transaction_id) DO NOTHING RETURNING id",
            (
                item.id,
                item.ledger_transaction_id,
                item.source_event_id,
                item.merchant_id,
                item.currency,
                item.kind,
                item.payment_id,
                item.refund_id,
                item.gross_amount,
                item.fee_amount,
                item.net_amount,
                item.effective_at,
            ),
        ).fetchone()
        return row is not None

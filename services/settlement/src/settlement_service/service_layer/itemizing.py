"""Itemising: each posted payment, refund or reversal becomes one settlement item, once; the
ledger's posting of a batch's closing lets that batch be paid out (``ledger_moves``)."""

from __future__ import annotations

from payevents import Envelope
from paykit.db import Connection
from settlement_service.adapters.items_repository import ItemsRepository
from settlement_service.domain.items import Item, item_from_posting
from settlement_service.service_layer.events import publish
from settlement_service.service_layer.ledger_moves import SETTLEMENT_KIND, record_ledger_move


def itemize(conn: Connection, envelope: Envelope) -> Item | None:
    """The item the posting stands for, recorded with its event; None when it is no item or
    was itemised before (the same ledger transaction under another event id included).

    A settlement posting is no item: it records the ledger's move of the batch to payable."""
    if envelope.data["kind"] == SETTLEMENT_KIND:
        record_ledger_move(conn, envelope.data, at=envelope.occurred_at)
        return None
    item = item_from_posting(envelope.data, event_id=envelope.id, occurred_at=envelope.occurred_at)
    if item is None or not ItemsRepository(conn).add(item):
        return None
    publish(
        conn,
        "settlement.item_created",
        {
            "item_id": item.id,
            "merchant_id": item.merchant_id,
            "currency": item.currency,
            "kind": item.kind,
            "amount": item.gross_amount,
            "fee_amount": item.fee_amount,
            "payment_id": item.payment_id,
            "refund_id": item.refund_id,
            "ledger_transaction_id": item.ledger_transaction_id,
        },
        causation=envelope,
    )
    return item

"""The ledger's closing of a batch, as settlement learns it: the gate of the batch's payout.

A batch's ``settlement.batch_closed`` asks the ledger to move its net from escrow to payable.
The ledger may refuse (escrow does not hold it: the event goes to its DLQ and nothing is
posted), so the batch's first payout waits for the ledger's announcement of that move, a
``ledger.transaction_posted`` of kind ``settlement`` naming the batch. Nothing is paid that the
ledger does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import structlog

from paykit.db import Connection
from settlement_service.adapters.batches_repository import BatchesRepository, LedgerMove

log = structlog.get_logger(__name__)

SETTLEMENT_KIND: Final = "settlement"
# A retry's posting (attempt >= 2) moves escrow to payable again; the closing came before it.
RETRY_CAUSE: Final = "settlement.batch_submitted"


def payable_credited(data: Mapping[str, Any]) -> int:
    """What the posting credited to the merchant's payable account."""
    payable = f"merchant:{data['merchant_id']}:payable"
    return sum(
        int(e["amount"])
        for e in data["entries"]
        if e["account"] == payable and e["direction"] == "credit"
    )


def record_ledger_move(conn: Connection, data: Mapping[str, Any], *, at: datetime) -> bool:
    """Record that the ledger moved the batch to payable; True the first time.

    A posting of a batch this service never made is logged and ignored: the ledger posts what
    any producer of settlement-events announced, and nothing here is paid from it. One that
    contradicts the batch (another merchant, currency or amount) is a ValueError: the itemizer
    dead-letters it with the reason, and the batch keeps waiting (the janitor warns of it).
    """
    if data.get("cause_type") == RETRY_CAUSE:
        return False
    batch_id = data.get("settlement_batch_id")
    if not batch_id:
        raise ValueError(f"settlement transaction {data['transaction_id']} names no batch")
    outcome = BatchesRepository(conn).record_ledger_move(
        batch_id, data["merchant_id"], data["currency"], payable_credited(data), at
    )
    if outcome is LedgerMove.UNKNOWN_BATCH:
        log.warning(
            "ledger_move_of_unknown_batch",
            batch_id=batch_id,
            transaction_id=data["transaction_id"],
        )
    if outcome is LedgerMove.CONTRADICTS_BATCH:
        raise ValueError(
            f"settlement transaction {data['transaction_id']} moved"
            f" {payable_credited(data)} {data['currency']} to {data['merchant_id']}'s payable,"
            f" which is not batch {batch_id}'s net, merchant or currency"
        )
    return outcome is LedgerMove.RECORDED

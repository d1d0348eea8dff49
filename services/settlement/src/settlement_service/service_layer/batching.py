"""Closing batches at a cutoff: one transaction, one closer at a time, once per cutoff.

Under a transaction-scoped advisory lock, a run records its cutoff (a second run of the same
cutoff, concurrent or later, waits for the lock, finds it and changes nothing), then for every
merchant and currency with eligible items or an open batch: puts the items effective before
``cutoff - holding period`` that are in no batch into the merchant's open batch (opened now if
there is none), and closes it when its net reaches the currency's minimum payout, or carries it
forward (``domain.batches``). Each closing and carrying is an event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from paykit.db import Connection
from settlement_service.adapters.batches_repository import BatchesRepository
from settlement_service.domain.batches import batch_id_for, carry_reason
from settlement_service.domain.configuration import MinimumPayouts
from settlement_service.domain.errors import CutoffInFuture
from settlement_service.service_layer.events import publish

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunResult:
    cutoff: datetime
    eligible_before: datetime
    replayed: bool
    closed: list[dict[str, Any]] = field(default_factory=list)
    carried_forward: list[dict[str, Any]] = field(default_factory=list)


def close_batches(
    conn: Connection,
    cutoff: datetime,
    *,
    now: datetime,
    holding_period: timedelta,
    minimums: MinimumPayouts,
    triggered_by: str,
) -> RunResult:
    """Run the cutoff in one transaction on ``conn``; the same cutoff again replays it."""
    if cutoff > now:
        raise CutoffInFuture(f"cutoff {cutoff.isoformat()} is later than now ({now.isoformat()})")
    eligible_before = cutoff - holding_period
    with conn.transaction():
        batches = BatchesRepository(conn)
        batches.lock_for_closing()
        if batches.run_exists(cutoff):
            return RunResult(
                cutoff,
                eligible_before,
                replayed=True,
                closed=batches.closed_at(cutoff),
                carried_forward=batches.open_since(cutoff),
            )
        batches.add_run(cutoff, eligible_before, triggered_by)
        carried: list[str] = []
        for merchant_id, currency in batches.groups_to_settle(eligible_before):
            batch_id = batches.open_batch(merchant_id, currency)
            if batch_id is None:
                batch_id = batch_id_for(merchant_id, currency, cutoff)
                batches.create_open_batch(batch_id, merchant_id, currency, cutoff)
            added = batches.add_eligible_items(batch_id, merchant_id, currency, eligible_before)
            totals = batches.totals(batch_id)
            minimum = minimums.for_currency(currency)
            reason = carry_reason(totals, minimum)
            facts = {
                "batch_id": batch_id,
                "merchant_id": merchant_id,
                "currency": currency,
                "item_count": totals.item_count,
                "gross_amount": totals.gross_amount,
                "refunded_amount": totals.refunded_amount,
                "fee_amount": totals.fee_amount,
                "reversed_amount": totals.reversed_amount,
                "fee_returned_amount": totals.fee_returned_amount,
                "net_amount": totals.net_amount,
            }
            if reason is None:
                batches.close(batch_id, totals, cutoff, eligible_before)
                publish(
                    conn,
                    "settlement.batch_closed",
                    {**facts, "period_start": totals.period_start, "period_end": eligible_before},
                )
                continue
            carried.append(batch_id)
            batches.carry_forward(batch_id, totals, reason)
            if added:
                publish(
                    conn,
                    "settlement.batch_carried_forward",
                    {**facts, "cutoff": cutoff, "reason": reason.value, "minimum_payout": minimum},
                )
        closed = batches.closed_at(cutoff)
        carried_rows = [row for batch_id in carried if (row := batches.get(batch_id))]
    log.info(
        "settlement_run",
        cutoff=cutoff.isoformat(),
        closed=len(closed),
        carried_forward=len(carried_rows),
        triggered_by=triggered_by,
    )
    return RunResult(cutoff, eligible_before, False, closed, carried_rows)

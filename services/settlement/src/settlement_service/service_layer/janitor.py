"""The janitor's pass: every payout nobody finished, looked at again.

- a closed batch the ledger moved to payable, without an attempt (its payout waited for the
  ledger's announcement, or the process stopped between the closing and the request): its first
  attempt is requested;
- a closed batch the ledger has not moved for longer than
  ``SETTLEMENT_LEDGER_WAIT_WARNING_MINUTES``: a warning naming it, every pass (the ledger
  refused its closing, which is in the ledger's DLQ, or the ledger is behind);
- an attempt still ``requested`` (the bank did not answer): the request is sent again under the
  same key, which the bank answers with the payout it made, if it made one;
- an attempt ``pending`` longer than the stuck threshold (the webhook never came): the bank's
  record (``GET /payouts/<id>``) is applied, or it is looked at again later.

Each is handled in its own short transactions; one failure is logged and the pass goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from settlement_service.adapters.batches_repository import BatchesRepository
from settlement_service.adapters.payouts_repository import PayoutsRepository
from settlement_service.bootstrap import SettlementService
from settlement_service.domain.payouts import PayoutRequest, PayoutStatus
from settlement_service.service_layer.bank import BankError
from settlement_service.service_layer.payouts import apply_bank_record, pay_out, send

log = structlog.get_logger(__name__)
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class PassResult:
    checked: int = 0
    failed: int = 0
    awaiting_ledger: int = 0


def run_pass(service: SettlementService, *, limit: int = 50) -> PassResult:
    pool, bank, clock = service.connections(), service.the_bank(), service.clock
    stuck_after = service.payout_stuck_after
    with pool.connection() as conn:
        payouts = PayoutsRepository(conn)
        unrequested = payouts.closed_without_payout(limit)
        due = [(b, a, payouts.get(b, a)) for b, a in payouts.due(clock(), limit)]
        waiting = BatchesRepository(conn).awaiting_ledger(
            clock() - service.ledger_wait_warning, limit
        )
    for batch in waiting:
        log.warning(
            "batch_awaiting_ledger",
            batch_id=batch["id"],
            merchant_id=batch["merchant_id"],
            currency=batch["currency"],
            net_amount=batch["net_amount"],
            closed_at=batch["updated_at"].isoformat(),
            detail="the ledger has not moved this closed batch to payable: is its"
            " settlement.batch_closed in the ledger's DLQ?",
        )
    checked = failed = 0
    for batch_id in unrequested:
        try:
            pay_out(pool, bank, batch_id, service.settings.bank_accounts, clock, stuck_after)
            checked += 1
        except Exception:
            failed += 1
            log.exception("janitor_payout_request_failed", batch_id=batch_id)
    for batch_id, attempt, row in due:
        if row is None:
            continue
        try:
            if row["status"] == PayoutStatus.REQUESTED:
                request = PayoutRequest(
                    batch_id,
                    attempt,
                    row["merchant_id"],
                    row["amount"],
                    row["currency"],
                    row["bank_account"],
                )
                send(pool, bank, request, clock, stuck_after)
            else:
                record = bank.get_payout(row["bank_payout_id"])
                if not record.status.final:
                    wait = min(stuck_after * (2 ** min(row["check_count"], 10)), LONGEST_WAIT)
                    with pool.connection() as conn:
                        PayoutsRepository(conn).check_later(batch_id, attempt, clock() + wait)
                else:
                    apply_bank_record(pool, record, clock, stuck_after)
            checked += 1
        except BankError as error:
            failed += 1
            log.warning("janitor_bank_unanswered", batch_id=batch_id, error=str(error))
            with pool.connection() as conn:
                PayoutsRepository(conn).check_later(batch_id, attempt, clock() + stuck_after)
        except Exception:
            failed += 1
            log.exception("janitor_payout_check_failed", batch_id=batch_id, attempt=attempt)
    return PassResult(checked, failed, len(waiting))

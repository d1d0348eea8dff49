"""Paying a closed batch out: record the attempt, commit, call the bank, record the answer.

No transaction is open across a bank call, so no lock is held while the bank thinks. Every
request carries ``<batch_id>:<attempt>`` as its idempotency key: a crash after the call, a
janitor repeating it, or a webhook overtaking the answer can never pay a batch twice (and the
database allows one paid attempt per batch). The bank's own record decides every outcome: a
webhook's report is confirmed with ``GET /payouts/<id>`` before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from psycopg_pool import ConnectionPool

from settlement_service.adapters.batches_repository import BatchesRepository
from settlement_service.adapters.payouts_repository import PayoutsRepository
from settlement_service.domain.batches import BatchStatus
from settlement_service.domain.configuration import BankAccounts
from settlement_service.domain.errors import BatchNotFound, IllegalTransition
from settlement_service.domain.payouts import BankPayout, PayoutRequest, PayoutStatus
from settlement_service.service_layer.bank import Bank, BankError
from settlement_service.service_layer.events import publish

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
RETRY_UNANSWERED = timedelta(seconds=30)


def start_attempt(
    pool: ConnectionPool,
    batch_id: str,
    accounts: BankAccounts,
    *,
    retry: bool,
    bank_account: str | None = None,
) -> PayoutRequest | None:
    """Record the batch's next payout attempt and commit it; the request to send.

    ``retry``: an operator's retry of a failed batch (IllegalTransition unless it failed).
    Otherwise the first attempt of a closed batch; None when it has one already, or while the
    ledger has not moved it to payable (nothing is paid that the ledger does not hold; the
    janitor requests it once the ledger's announcement is recorded). A retry is not held
    back: the ledger's posting of a retry cannot be refused.
    ``bank_account``: the account an operator corrected for this retry (a closed or invalid
    account fails again however often it is retried); stored with the attempt, which the
    janitor re-sends as recorded. Without it, the merchant's configured account.
    """
    with pool.connection() as conn, conn.transaction():
        batches, payouts = BatchesRepository(conn), PayoutsRepository(conn)
        batch = batches.get(batch_id, for_update=True)
        if batch is None:
            raise BatchNotFound(f"no batch {batch_id}")
        status = BatchStatus(batch["status"])
        if retry and (status is not BatchStatus.FAILED or payouts.in_flight(batch_id)):
            raise IllegalTransition(f"batch {batch_id} is {status}: only a failed batch is retried")
        if not retry and (
            status is not BatchStatus.CLOSED
            or batch["attempt"] > 0
            or batch["ledger_moved_at"] is None
        ):
            return None
        request = PayoutRequest(
            batch_id=batch_id,
            attempt=int(batch["attempt"]) + 1,
            merchant_id=batch["merchant_id"],
            amount=int(batch["net_amount"]),
            currency=batch["currency"],
            bank_account=bank_account or accounts.for_merchant(batch["merchant_id"]),
        )
        payouts.add(request)
        conn.execute(
            "UPDATE settlement_batches SET attempt = %s WHERE id = %s", (request.attempt, batch_id)
        )
    return request


def send(
    pool: ConnectionPool, bank: Bank, request: PayoutRequest, clock: Clock, stuck_after: timedelta
) -> BankPayout | None:
    """Ask the bank (no transaction held), then record its answer; None when it gave none."""
    try:
        answer = bank.request_payout(request)
    except BankError as error:
        log.warning("payout_request_unanswered", batch_id=request.batch_id, error=str(error))
        with pool.connection() as conn:
            PayoutsRepository(conn).check_later(
                request.batch_id, request.attempt, clock() + RETRY_UNANSWERED
            )
        return None
    apply_bank_record(pool, answer, clock, stuck_after)
    return answer


def pay_out(
    pool: ConnectionPool,
    bank: Bank,
    batch_id: str,
    accounts: BankAccounts,
    clock: Clock,
    stuck_after: timedelta,
    *,
    retry: bool = False,
    bank_account: str | None = None,
) -> BankPayout | None:
    request = start_attempt(pool, batch_id, accounts, retry=retry, bank_account=bank_account)
    if request is None:
        return None
    return send(pool, bank, request, clock, stuck_after)


def apply_bank_record(
    pool: ConnectionPool, record: BankPayout, clock: Clock, stuck_after: timedelta
) -> bool:
    """Bring the attempt (and its batch) to what the bank's record says; True if it changed.

    Submitted first when not yet (a webhook may overtake the answer to the request), then the
    outcome when the record has one. Each change is an event in the same transaction.
    """
    now = clock()
    with pool.connection() as conn, conn.transaction():
        batches, payouts = BatchesRepository(conn), PayoutsRepository(conn)
        batch = batches.get(record.batch_id, for_update=True)
        attempt = payouts.get(record.batch_id, record.attempt, for_update=True)
        if batch is None or attempt is None:
            raise BatchNotFound(f"no payout attempt {record.batch_id}:{record.attempt}")
        if PayoutStatus(attempt["status"]).final:
            return False
        facts = {
            "batch_id": batch["id"],
            "merchant_id": batch["merchant_id"],
            "currency": batch["currency"],
            "amount": attempt["amount"],
            "attempt": record.attempt,
            "payout_id": record.id,
        }
        if attempt["status"] == PayoutStatus.REQUESTED:
            payouts.mark_pending(record, now, now + stuck_after)
            batches.move(record.batch_id, BatchStatus.SUBMITTED)
            publish(conn, "settlement.batch_submitted", facts)
        if not record.status.final:
            return True
        payouts.complete(record, now)
        if record.status is PayoutStatus.PAID:
            batches.move(record.batch_id, BatchStatus.PAID)
            publish(conn, "settlement.batch_paid", facts)
        else:
            batches.move(record.batch_id, BatchStatus.FAILED)
            publish(
                conn,
                "settlement.batch_failed",
                {
                    **facts,
                    "failure_code": record.failure_code or "unexplained",
                    "failure_message": record.failure_message,
                },
            )
    log.info(
        "payout_recorded",
        batch_id=record.batch_id,
        attempt=record.attempt,
        status=record.status.value,
    )
    return True

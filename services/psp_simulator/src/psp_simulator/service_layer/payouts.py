"""Paying merchants out at the simulated bank: once per batch attempt, re-checkable by GET."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from payevents.fieldtypes import format_utc
from paykit.logging import get_logger
from psp_simulator.domain.errors import PayoutIdempotencyKeyReused, PayoutNotFound
from psp_simulator.domain.idempotency import IdempotencyRecord
from psp_simulator.domain.payouts import Payout, bank_outcome_for, payout_webhook_body
from psp_simulator.domain.webhooks import Webhook, WebhookTarget, encode_body
from psp_simulator.service_layer.commands import CreatePayout
from psp_simulator.service_layer.faults import sends_webhooks
from psp_simulator.service_layer.ports import IdempotencyScope, Transaction
from psp_simulator.service_layer.simulator import Simulator, run_optimistically

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PayoutReceipt:
    payout: Payout
    created: bool
    seen_at: float


def create_payout(simulator: Simulator, command: CreatePayout) -> PayoutReceipt:
    """Make the payout once per idempotency key; a replay returns it as it is now.

    An unavailable bank refuses before anything is stored, so the caller's retry (same key)
    makes the payout then.
    """
    outcome = bank_outcome_for(command.bank_account)
    request_fingerprint = command.fingerprint()
    with_webhook = outcome.sends_webhook and sends_webhooks(simulator)

    def work(transaction: Transaction) -> tuple[Payout, bool]:
        prior = transaction.idempotency_record(IdempotencyScope.PAYOUTS, command.idempotency_key)
        if prior is not None:
            if not prior.matches(request_fingerprint):
                raise PayoutIdempotencyKeyReused("the key was used for a different payout request")
            existing = transaction.payout(prior.resource_id)
            if existing is None:
                raise PayoutNotFound(prior.resource_id)
            return existing, False
        now = simulator.clock()
        payout = Payout(
            id=simulator.new_id("po"),
            batch_id=command.batch_id,
            attempt=command.attempt,
            merchant_id=command.merchant_id,
            amount=command.amount,
            currency=command.currency,
            bank_account=command.bank_account,
            outcome=outcome.status,
            failure_code=outcome.failure_code,
            failure_message=outcome.failure_message,
            created_at=now,
            decided_at=now + simulator.timings.payout_delay,
        )
        transaction.add_payout(payout)
        transaction.remember(
            IdempotencyScope.PAYOUTS,
            command.idempotency_key,
            IdempotencyRecord(request_fingerprint, payout.id),
        )
        if with_webhook:
            transaction.schedule(_outcome_webhook(payout, simulator))
        return payout, True

    payout, created = run_optimistically(simulator, work)
    if created:
        _log.info(
            "payout_created",
            payout_id=payout.id,
            batch_id=payout.batch_id,
            attempt=payout.attempt,
            outcome=payout.outcome.value,
            webhook=with_webhook,
        )
    return PayoutReceipt(payout, created, simulator.clock())


def get_payout(simulator: Simulator, payout_id: str) -> PayoutReceipt:
    payout = simulator.uow.payout(payout_id)
    if payout is None:
        raise PayoutNotFound(payout_id)
    return PayoutReceipt(payout, False, simulator.clock())


def payouts_for_batch(simulator: Simulator, batch_id: str) -> Sequence[PayoutReceipt]:
    """Every attempt at paying a batch, the newest attempt last."""
    now = simulator.clock()
    found = sorted(
        simulator.uow.payouts_for_batch(batch_id), key=lambda p: (p.attempt, p.created_at)
    )
    return [PayoutReceipt(payout, False, now) for payout in found]


def payouts_on_day(simulator: Simulator, day: date) -> Sequence[PayoutReceipt]:
    """What the bank received that UTC day, in order: a day's statement, for reconciliation."""
    now = simulator.clock()
    return [PayoutReceipt(payout, False, now) for payout in simulator.uow.payouts_on(day)]


def _outcome_webhook(payout: Payout, simulator: Simulator) -> Webhook:
    occurred_at = format_utc(datetime.fromtimestamp(payout.decided_at, UTC))
    return Webhook(
        delivery_id=simulator.new_id("dlv"),
        event_id=payout.webhook_event_id,
        event_type=payout.webhook_type,
        payment_reference=payout.id,
        refund_reference=None,
        due_at=payout.decided_at,
        body=encode_body(payout_webhook_body(payout, occurred_at)),
        target=WebhookTarget.PAYOUTS,
    )

"""Refunding succeeded charges, never beyond what was charged."""

from dataclasses import dataclass

from paykit.logging import get_logger
from psp_simulator.domain.charges import Refund
from psp_simulator.domain.errors import (
    IdempotencyKeyReused,
    RefundNotFound,
    RefundOfUnknownCharge,
)
from psp_simulator.domain.idempotency import IdempotencyRecord
from psp_simulator.domain.webhooks import plan_refund_webhooks
from psp_simulator.service_layer.commands import CreateRefund
from psp_simulator.service_layer.faults import sends_webhooks
from psp_simulator.service_layer.ports import IdempotencyScope, Transaction
from psp_simulator.service_layer.simulator import Simulator, run_optimistically

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RefundReceipt:
    refund: Refund
    created: bool
    seen_at: float


def create_refund(simulator: Simulator, command: CreateRefund) -> RefundReceipt:
    request_fingerprint = command.fingerprint()
    with_webhooks = sends_webhooks(simulator)

    def work(transaction: Transaction) -> tuple[Refund, bool]:
        prior = transaction.idempotency_record(IdempotencyScope.REFUNDS, command.idempotency_key)
        if prior is not None:
            if not prior.matches(request_fingerprint):
                raise IdempotencyKeyReused("the key was used for a different refund request")
            existing = transaction.refund(prior.resource_id)
            if existing is None:
                raise RefundNotFound(prior.resource_id)
            return existing, False
        charge = transaction.charge(command.charge_id)
        if charge is None:
            raise RefundOfUnknownCharge(command.charge_id)
        now = simulator.clock()
        charge_after, refund = charge.refund(
            refund_id=simulator.new_id("re"),
            reference=command.reference,
            amount=command.amount,
            now=now,
            settles_at=now + simulator.timings.outcome_delay,
        )
        transaction.add_refund(charge_after, refund)
        transaction.remember(
            IdempotencyScope.REFUNDS,
            command.idempotency_key,
            IdempotencyRecord(request_fingerprint, refund.id),
        )
        if with_webhooks:
            for webhook in plan_refund_webhooks(refund, simulator.new_id):
                transaction.schedule(webhook)
        return refund, True

    refund, created = run_optimistically(simulator, work)
    if created:
        _log.info(
            "refund_created",
            refund_id=refund.id,
            charge_id=refund.charge_id,
            reference=refund.reference,
            amount=refund.amount,
        )
    return RefundReceipt(refund, created, simulator.clock())


def get_refund(simulator: Simulator, refund_id: str) -> RefundReceipt:
    refund = simulator.uow.refund(refund_id)
    if refund is None:
        raise RefundNotFound(refund_id)
    return RefundReceipt(refund, False, simulator.clock())

"""Taking and looking up charges."""

from collections.abc import Sequence
from dataclasses import dataclass

from paykit.logging import get_logger
from psp_simulator.domain.charges import Charge
from psp_simulator.domain.errors import ChargeNotFound, IdempotencyKeyReused
from psp_simulator.domain.idempotency import IdempotencyRecord
from psp_simulator.domain.outcomes import outcome_for, plan_charge_webhooks
from psp_simulator.service_layer.commands import CreateCharge
from psp_simulator.service_layer.faults import sends_webhooks
from psp_simulator.service_layer.ports import IdempotencyScope, Transaction
from psp_simulator.service_layer.simulator import Simulator, run_optimistically

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ChargeReceipt:
    charge: Charge
    created: bool
    # When the answer is given: the status shown is the one at this moment.
    seen_at: float


def create_charge(simulator: Simulator, command: CreateCharge) -> ChargeReceipt:
    """Take a charge once per idempotency key; a replay returns the same charge as it is now."""
    outcome = outcome_for(command.payment_method)
    request_fingerprint = command.fingerprint()
    with_webhooks = sends_webhooks(simulator)

    def work(transaction: Transaction) -> tuple[Charge, bool]:
        prior = transaction.idempotency_record(IdempotencyScope.CHARGES, command.idempotency_key)
        if prior is not None:
            if not prior.matches(request_fingerprint):
                raise IdempotencyKeyReused("the key was used for a different charge request")
            existing = transaction.charge(prior.resource_id)
            if existing is None:
                raise ChargeNotFound(prior.resource_id)
            return existing, False
        now = simulator.clock()
        charge = Charge(
            id=simulator.new_id("ch"),
            reference=command.reference,
            amount=command.amount,
            currency=command.currency,
            payment_method=command.payment_method,
            outcome=outcome.status,
            failure_code=outcome.failure_code,
            created_at=now,
            settles_at=now + simulator.timings.outcome_delay,
        )
        transaction.add_charge(charge)
        transaction.remember(
            IdempotencyScope.CHARGES,
            command.idempotency_key,
            IdempotencyRecord(request_fingerprint, charge.id),
        )
        if with_webhooks:
            timings, new_id = simulator.timings, simulator.new_id
            for webhook in plan_charge_webhooks(charge, outcome, timings, new_id):
                transaction.schedule(webhook)
        return charge, True

    charge, created = run_optimistically(simulator, work)
    if created:
        _log.info(
            "charge_created",
            charge_id=charge.id,
            reference=charge.reference,
            payment_method=charge.payment_method,
            outcome=charge.outcome.value,
        )
        if outcome.delays_response:
            # Only the first answer is held back: the charge exists, the caller just never
            # hears about it in time. A replay or a GET finds it.
            simulator.pause(simulator.timings.response_delay)
    return ChargeReceipt(charge, created, simulator.clock())


def get_charge(simulator: Simulator, charge_id: str) -> ChargeReceipt:
    charge = simulator.uow.charge(charge_id)
    if charge is None:
        raise ChargeNotFound(charge_id)
    return ChargeReceipt(charge, False, simulator.clock())


def charges_with_reference(simulator: Simulator, reference: str) -> Sequence[ChargeReceipt]:
    """How a caller whose request timed out finds the charge it never heard back about."""
    now = simulator.clock()
    charges = sorted(simulator.uow.charges_with_reference(reference), key=lambda c: c.created_at)
    return [ChargeReceipt(charge, False, now) for charge in charges]

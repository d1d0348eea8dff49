"""Sending a refund to the PSP, and the janitor's look at one refund.

The same three steps as charging: record the intent and commit, call the PSP (idempotent by the
refund id), apply the answer in a new transaction. A refund the PSP has not settled keeps a next
check, so none stays ``requested`` with its amount reserved forever: not when the charger's
retries run out, not when its webhook never comes.
"""

from __future__ import annotations

import structlog

from payevents import Envelope
from payment_service.domain.errors import PspContradiction
from payment_service.domain.payment import Payment
from payment_service.domain.psp import RefundRecord
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.domain.reports import differences
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.contradictions import keep_psp_contradiction
from payment_service.service_layer.errors import UnknownPayment, UnknownRefund
from payment_service.service_layer.events import announce_refund_outcome
from payment_service.service_layer.provider import ProviderDeclined, ProviderUnavailable
from payment_service.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


def send_refund(refund_id: str, ctx: ProviderContext, causation: Envelope | None = None) -> None:
    """The charger's work for ``refund.requested``."""
    with ctx.transactions() as uow:
        refund, charge_id = _lock_with_charge(uow, refund_id)
        if refund.status is not RefundStatus.REQUESTED or refund.psp_reference:
            log.info("refund_skipped", refund_id=refund_id, status=refund.status)
            return
        refund.recheck.wait_until(ctx.clock() + ctx.stuck_after)
        uow.refunds.save(refund)
    _refund_at_psp(refund, charge_id, ctx, causation)


def recheck_refund(refund_id: str, ctx: ProviderContext) -> None:
    """The janitor's work for one refund whose next check is due."""
    with ctx.transactions() as uow:
        refund, charge_id = _lock_with_charge(uow, refund_id)
        if not refund.recheck.is_due(ctx.clock()):
            return
        refund.recheck.claim(ctx.clock(), ctx.backoff)
        uow.refunds.save(refund)
    if refund.psp_reference is None:
        if refund.status is RefundStatus.REQUESTED:
            _refund_at_psp(refund, charge_id, ctx, None)  # never got through: send it now
        else:
            _nothing_to_ask(refund_id, ctx)
        return
    record = ctx.psp.get_refund(refund.psp_reference)
    with ctx.transactions() as uow:
        apply_refund_record(refund_id, record, uow)


def _nothing_to_ask(refund_id: str, ctx: ProviderContext) -> None:
    """A refund refused before the PSP ever made one: there is no PSP record to look at."""
    with ctx.transactions() as uow:
        refund = uow.refunds.get_for_update(refund_id)
        if refund is not None:
            refund.recheck.clear()
            uow.refunds.save(refund)


def _lock_refund_and_payment(uow: UnitOfWork, refund_id: str) -> tuple[Refund, Payment]:
    refund = uow.refunds.get_for_update(refund_id)
    if refund is None:
        raise UnknownRefund(refund_id)
    payment = uow.payments.get_for_update(refund.payment_id)
    if payment is None:
        raise UnknownPayment(refund.payment_id)
    return refund, payment


def _lock_with_charge(uow: UnitOfWork, refund_id: str) -> tuple[Refund, str]:
    refund = uow.refunds.get_for_update(refund_id)
    if refund is None:
        raise UnknownRefund(refund_id)
    payment = uow.payments.get(refund.payment_id)
    if payment is None:
        raise UnknownPayment(refund.payment_id)
    if payment.psp_reference is None:
        # Cannot happen for a refundable payment (its charge is confirmed with its id); if it
        # does, retrying later is all that can be done, and the janitor will.
        raise ProviderUnavailable(f"payment {payment.id} has no PSP charge id to refund")
    return refund, payment.psp_reference


def _refund_at_psp(
    refund: Refund, charge_id: str, ctx: ProviderContext, causation: Envelope | None
) -> None:
    try:
        record = ctx.psp.refund(refund, charge_id)
    except ProviderDeclined as declined:
        with ctx.transactions() as uow:
            _decline(refund.id, declined, uow, causation)
        return
    with ctx.transactions() as uow:
        apply_refund_record(refund.id, record, uow, causation)


def apply_refund_record(
    refund_id: str, record: RefundRecord, uow: UnitOfWork, causation: Envelope | None = None
) -> None:
    """Make the refund what the PSP's own record says."""
    refund, payment = _lock_refund_and_payment(uow, refund_id)
    try:
        found = _record_differences(refund, payment, record)
        if found:
            raise PspContradiction("; ".join(found))
        refund.accepted_by_psp(record.id)
        outcome = refund.outcome_of(record.status, correct=True)
    except PspContradiction as contradiction:
        keep_psp_contradiction(
            uow,
            payment_id=refund.payment_id,
            refund_id=refund.id,
            status=record.status,
            reason=str(contradiction),
            psp_reference=record.id,
            amount=record.amount,
            currency=record.currency,
        )
        refund.recheck.clear()
        uow.refunds.save(refund)
        return
    if outcome is not None:
        settle_refund(refund, payment, outcome, record.failure_code, uow, causation)
    if record.status.final:
        refund.recheck.clear()
    uow.refunds.save(refund)


def settle_refund(
    refund: Refund,
    payment: Payment,
    outcome: RefundStatus,
    failure_code: str | None,
    uow: UnitOfWork,
    causation: Envelope | None,
) -> None:
    """The refund's final outcome, with the payment's reserved amount moved or released."""
    if outcome is RefundStatus.SUCCEEDED:
        refund.succeed()
        payment.complete_refund(refund.amount)
    else:
        refund.fail(failure_code or "psp_declined")
        payment.release_refund(refund.amount)
    refund.recheck.clear()
    uow.refunds.save(refund)
    uow.payments.save(payment)
    announce_refund_outcome(uow, refund, causation)


def _record_differences(refund: Refund, payment: Payment, record: RefundRecord) -> list[str]:
    compared: dict[str, tuple[object, object]] = {
        "reference": (record.reference, refund.id),
        "amount": (record.amount, refund.amount),
        "currency": (record.currency, refund.currency),
        "charge": (record.charge_id, payment.psp_reference),
        "refund": (record.id, refund.psp_reference),
    }
    return differences(compared, whose="the PSP's ")


def _decline(
    refund_id: str, declined: ProviderDeclined, uow: UnitOfWork, causation: Envelope | None
) -> None:
    refund, payment = _lock_refund_and_payment(uow, refund_id)
    if refund.status is RefundStatus.REQUESTED:
        settle_refund(refund, payment, RefundStatus.FAILED, declined.code, uow, causation)
        log.info("refund_declined", refund_id=refund_id, code=declined.code)

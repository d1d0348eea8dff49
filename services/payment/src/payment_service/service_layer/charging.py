"""Charging a payment at the PSP, and the janitor's look at one payment.

No transaction or row lock is held across a call to the PSP: each use case records its intent
and commits (the payment's next check is set, so a process that dies mid-call leaves the janitor
a note), calls the PSP (whose idempotency key, the payment id, makes any repeat safe), then
applies the answer in a new transaction, to the payment as it is by then.
"""

from __future__ import annotations

import structlog

from payevents import Envelope
from payment_service.domain.errors import PspContradiction
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.psp import ChargeRecord, PspStatus
from payment_service.domain.reports import differences
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.contradictions import keep_psp_contradiction
from payment_service.service_layer.errors import UnknownPayment
from payment_service.service_layer.events import announce_payment_changes
from payment_service.service_layer.provider import ProviderDeclined
from payment_service.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


def charge_payment(
    payment_id: str, ctx: ProviderContext, causation: Envelope | None = None
) -> None:
    """The charger's work for ``payment.created``."""
    with ctx.transactions() as uow:
        payment = uow.payments.get_for_update(payment_id)
        if payment is None:
            raise UnknownPayment(payment_id)
        if payment.status is not PaymentStatus.CREATED:
            log.info("charge_skipped", payment_id=payment_id, status=payment.status)
            return
        payment.recheck.wait_until(ctx.clock() + ctx.stuck_after)
        uow.payments.save(payment)
    _charge_at_psp(payment, ctx, causation)


def recheck_payment(payment_id: str, ctx: ProviderContext) -> None:
    """The janitor's work for one payment whose next check is due."""
    with ctx.transactions() as uow:
        payment = uow.payments.get_for_update(payment_id)
        if payment is None or not payment.recheck.is_due(ctx.clock()):
            return  # another janitor took it, or it settled meanwhile
        payment.recheck.claim(ctx.clock(), ctx.backoff)
        uow.payments.save(payment)
    record = ctx.psp.find_charge(payment)
    if record is None and payment.status is PaymentStatus.CREATED:
        _charge_at_psp(payment, ctx, None)  # the charger never got through: charge it now
        return
    with ctx.transactions() as uow:
        if record is None:
            _no_charge_at_psp(payment_id, uow)
        else:
            apply_charge_record(payment_id, record, uow)


def _charge_at_psp(payment: Payment, ctx: ProviderContext, causation: Envelope | None) -> None:
    try:
        record = ctx.psp.charge(payment)
    except ProviderDeclined as declined:
        with ctx.transactions() as uow:
            _decline(payment.id, declined, uow, causation)
        return
    with ctx.transactions() as uow:
        apply_charge_record(payment.id, record, uow, causation)


def apply_charge_record(
    payment_id: str, record: ChargeRecord, uow: UnitOfWork, causation: Envelope | None = None
) -> None:
    """Make the payment what the PSP's own record says, correcting a final status if need be."""
    payment = uow.payments.get_for_update(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    found = _record_differences(payment, record)
    try:
        if found:
            raise PspContradiction("; ".join(found))
        payment.psp_reference = record.id
        changes = payment.follow_psp(record.status, record.failure_code, correct=True)
    except PspContradiction as contradiction:
        keep_psp_contradiction(
            uow,
            payment_id=payment.id,
            status=record.status,
            reason=str(contradiction),
            psp_reference=record.id,
            amount=record.amount,
            currency=record.currency,
        )
        payment.recheck.clear()  # asking again cannot settle it: people must
        uow.payments.save(payment)
        return
    if record.status.final:
        payment.recheck.clear()
    uow.payments.save(payment)
    announce_payment_changes(uow, payment, changes, causation)


def _record_differences(payment: Payment, record: ChargeRecord) -> list[str]:
    compared: dict[str, tuple[object, object]] = {
        "reference": (record.reference, payment.id),
        "amount": (record.amount, payment.amount),
        "currency": (record.currency, payment.currency),
        "charge": (record.id, payment.psp_reference),
    }
    return differences(compared, whose="the PSP's ")


def _decline(
    payment_id: str, declined: ProviderDeclined, uow: UnitOfWork, causation: Envelope | None
) -> None:
    payment = uow.payments.get_for_update(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    changes = payment.follow_psp(PspStatus.FAILED, declined.code, correct=False)
    if payment.final:
        payment.recheck.clear()
    uow.payments.save(payment)
    announce_payment_changes(uow, payment, changes, causation)
    log.info("charge_declined", payment_id=payment_id, code=declined.code)


def _no_charge_at_psp(payment_id: str, uow: UnitOfWork) -> None:
    payment = uow.payments.get_for_update(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    if payment.status not in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        keep_psp_contradiction(
            uow,
            payment_id=payment.id,
            status=PspStatus.FAILED,
            reason=f"the PSP has no charge for a payment we hold {payment.status}",
            psp_reference=payment.psp_reference,
        )
    payment.recheck.clear()
    uow.payments.save(payment)

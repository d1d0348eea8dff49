"""What the status applier does with a webhook's report: judge it, keep it, maybe apply it.

Every report is kept with its verdict (``psp_reports``). One that is complete and agrees with
what the platform holds is applied at once, so nobody waits for the outcome, and the PSP's own
record confirms it once ``confirm_after`` later (a correction follows if the PSP disagrees). One
that lacks a field or contradicts us changes nothing and makes the next check of the payment or
refund due now: the janitor asks the PSP, whose own record decides. All of it is database work,
in the consumer's transaction.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import structlog

from payevents import Envelope
from payment_service.domain.refund import RefundStatus
from payment_service.domain.reports import (
    Judgement,
    PspReport,
    Verdict,
    judge_payment_report,
    judge_refund_report,
)
from payment_service.service_layer.errors import (
    RefundNotAcknowledged,
    UnknownPayment,
    UnknownRefund,
)
from payment_service.service_layer.events import announce_payment_changes
from payment_service.service_layer.refunding import settle_refund
from payment_service.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


def apply_payment_report(
    report: PspReport,
    uow: UnitOfWork,
    now: datetime,
    causation: Envelope | None = None,
    *,
    confirm_after: timedelta,
) -> Verdict:
    payment = uow.payments.get_for_update(report.payment_id)
    if payment is None:
        raise UnknownPayment(report.payment_id)
    judgement = judge_payment_report(payment, report)
    uow.reports.add(report, judgement)
    if judgement.verdict is Verdict.APPLIED:
        changes = payment.follow_psp(report.status, report.failure_code, correct=False)
        if payment.final:
            payment.recheck.confirm_at(now + confirm_after)
        uow.payments.save(payment)
        announce_payment_changes(uow, payment, changes, causation)
    elif judgement.needs_psp:
        _log_left_to_the_psp(report, judgement)
        payment.recheck.now(now)
        uow.payments.save(payment)
    return judgement.verdict


def apply_refund_report(
    report: PspReport,
    uow: UnitOfWork,
    now: datetime,
    causation: Envelope | None = None,
    *,
    confirm_after: timedelta,
) -> Verdict:
    refund = uow.refunds.get_for_update(report.refund_id) if report.refund_id else None
    if refund is None and report.psp_reference:
        refund = uow.refunds.find_for_update_by_psp_reference(report.psp_reference)
    if refund is None:
        raise UnknownRefund(report.refund_id or report.psp_reference or "a refund without ids")
    if refund.status is RefundStatus.REQUESTED and refund.psp_reference is None:
        raise RefundNotAcknowledged(
            f"refund {refund.id}: the PSP's answer to the charger is not committed yet"
        )
    payment = uow.payments.get_for_update(refund.payment_id)
    if payment is None:
        raise UnknownPayment(refund.payment_id)
    judgement = judge_refund_report(refund, report)
    # Kept under the refund it was matched to (a report may name it by the PSP's id only).
    uow.reports.add(dataclasses.replace(report, refund_id=refund.id), judgement)
    if judgement.verdict is Verdict.APPLIED:
        outcome = RefundStatus(report.status.value)
        settle_refund(refund, payment, outcome, report.failure_code, uow, causation)
        refund.recheck.confirm_at(now + confirm_after)
        uow.refunds.save(refund)
    elif judgement.needs_psp:
        _log_left_to_the_psp(report, judgement)
        refund.recheck.now(now)
        uow.refunds.save(refund)
    return judgement.verdict


def _log_left_to_the_psp(report: PspReport, judgement: Judgement) -> None:
    log.warning(
        "psp_report_left_to_the_psp",
        payment_id=report.payment_id,
        refund_id=report.refund_id,
        psp_event_id=report.event_id,
        reported=report.status,
        verdict=judgement.verdict,
        reason=judgement.reason,
    )

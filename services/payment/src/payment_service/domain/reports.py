"""Judging what a webhook reports before it changes anything.

A report is applied at once only when it is complete (amount, currency and the PSP's charge or
refund id) and agrees with what the platform holds, including the charge id the PSP itself gave
us. Otherwise it changes nothing and is kept with the reason: one that *contradicts* us (another
amount, currency, charge or payment, or an outcome against a final status) and one that cannot be
*verified* (the legacy shape without an amount, a charge we never heard of from the PSP) both make
the PSP's own record decide, at the janitor's next pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from payment_service.domain.payment import CHARGED, Payment, PaymentStatus
from payment_service.domain.psp import PspStatus
from payment_service.domain.refund import Refund, RefundStatus


class Verdict(StrEnum):
    APPLIED = "applied"
    NO_CHANGE = "no_change"  # true but not news: a repeat, or a step already passed
    UNCONFIRMED = "unconfirmed"  # left to the PSP's own record
    CONTRADICTED = "contradicted"  # left to the PSP's own record, and suspicious


class ReportSource(StrEnum):
    WEBHOOK = "webhook"
    PSP_RECORD = "psp_record"  # the PSP's own answer, when it contradicts what we hold


@dataclass(frozen=True)
class PspReport:
    """One status report about a payment (``refund_id`` None) or one of its refunds."""

    event_id: str | None
    payment_id: str
    status: PspStatus
    amount: int | None = None
    currency: str | None = None
    psp_reference: str | None = None
    failure_code: str | None = None
    refund_id: str | None = None
    source: ReportSource = ReportSource.WEBHOOK

    @property
    def about_refund(self) -> bool:
        return self.refund_id is not None


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str | None = None

    @property
    def needs_psp(self) -> bool:
        return self.verdict in (Verdict.UNCONFIRMED, Verdict.CONTRADICTED)


def differences(compared: dict[str, tuple[object, object]], *, whose: str = "") -> list[str]:
    """Each named field, given as (theirs, ours), where both are known and they differ."""
    return [
        f"{whose}{name} {theirs} is not the {ours} we hold"
        for name, (theirs, ours) in compared.items()
        if theirs is not None and ours is not None and theirs != ours
    ]


def _missing(report: PspReport, psp_id_name: str) -> list[str]:
    present = {
        "amount": report.amount,
        "currency": report.currency,
        psp_id_name: report.psp_reference,
    }
    return [name for name, value in present.items() if value is None]


_PAYMENT_OUTCOMES: dict[PspStatus, frozenset[PaymentStatus]] = {
    PspStatus.SUCCEEDED: CHARGED,
    PspStatus.FAILED: frozenset({PaymentStatus.FAILED}),
    PspStatus.CANCELED: frozenset({PaymentStatus.CANCELED}),
}


def judge_payment_report(payment: Payment, report: PspReport) -> Judgement:
    found = differences(
        {
            "amount": (report.amount, payment.amount),
            "currency": (report.currency, payment.currency),
            "charge": (report.psp_reference, payment.psp_reference),
        }
    )
    if found:
        return Judgement(Verdict.CONTRADICTED, "; ".join(found))
    missing = _missing(report, "charge")
    if missing:
        return Judgement(Verdict.UNCONFIRMED, f"the report lacks {', '.join(missing)}")
    if payment.psp_reference is None:
        return Judgement(Verdict.UNCONFIRMED, "names a charge the PSP has not confirmed to us yet")
    if report.status is PspStatus.PROCESSING:
        moves = payment.status is PaymentStatus.CREATED
        return Judgement(Verdict.APPLIED if moves else Verdict.NO_CHANGE)
    if payment.status in (PaymentStatus.CREATED, PaymentStatus.PROCESSING):
        if report.status is PspStatus.CANCELED and payment.status is PaymentStatus.PROCESSING:
            return Judgement(Verdict.CONTRADICTED, "reports canceled, the charge is under way")
        return Judgement(Verdict.APPLIED)
    if payment.status in _PAYMENT_OUTCOMES[report.status]:
        return Judgement(Verdict.NO_CHANGE)
    return Judgement(
        Verdict.CONTRADICTED, f"reports {report.status}, the payment is {payment.status}"
    )


def judge_refund_report(refund: Refund, report: PspReport) -> Judgement:
    found = differences(
        {
            "payment": (report.payment_id, refund.payment_id),
            "refund": (report.refund_id, refund.id),
            "amount": (report.amount, refund.amount),
            "currency": (report.currency, refund.currency),
            "PSP refund": (report.psp_reference, refund.psp_reference),
        }
    )
    if found:
        return Judgement(Verdict.CONTRADICTED, "; ".join(found))
    missing = _missing(report, "refund")
    if missing:
        return Judgement(Verdict.UNCONFIRMED, f"the report lacks {', '.join(missing)}")
    if report.status is PspStatus.PROCESSING:
        return Judgement(Verdict.NO_CHANGE)
    if refund.status is RefundStatus.REQUESTED:
        return Judgement(Verdict.APPLIED)
    if refund.status.value == report.status.value:
        return Judgement(Verdict.NO_CHANGE)
    return Judgement(
        Verdict.CONTRADICTED, f"reports {report.status}, the refund is {refund.status}"
    )

"""A PSP record the platform cannot follow by itself: kept, logged as an error, counted."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from payment_service.domain.psp import PspStatus
from payment_service.domain.reports import Judgement, PspReport, ReportSource, Verdict
from payment_service.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

CONTRADICTIONS = Counter(
    "payment_psp_contradictions_total",
    "PSP records the platform could not follow by itself and left for people.",
    ["kind"],
)


def keep_psp_contradiction(
    uow: UnitOfWork,
    *,
    payment_id: str,
    status: PspStatus,
    reason: str,
    psp_reference: str | None,
    refund_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
) -> None:
    kind = "refund" if refund_id else "payment"
    CONTRADICTIONS.labels(kind).inc()
    log.error(
        "psp_record_contradicts_platform",
        payment_id=payment_id,
        refund_id=refund_id,
        psp_status=status,
        psp_reference=psp_reference,
        reason=reason,
    )
    uow.reports.add(
        PspReport(
            event_id=None,
            payment_id=payment_id,
            status=status,
            amount=amount,
            currency=currency,
            psp_reference=psp_reference,
            refund_id=refund_id,
            source=ReportSource.PSP_RECORD,
        ),
        Judgement(Verdict.CONTRADICTED, reason),
    )

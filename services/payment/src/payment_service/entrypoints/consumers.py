"""Event handlers for the payment service's two consumer groups.

``payment-psp-charger`` reads the service's own payment-events and talks to the PSP. It runs
with ``handler_transactions``: the consumer runtime holds no transaction while the handler runs
and writes the inbox row after it returns. The work runs in its own short transactions on the
service's pool, around the PSP call, so no row is locked and no transaction is open while the
PSP is asked (see ``service_layer.charging``). Exactly once holds without the inbox: the effect
commits with the payment's state change, and a redelivery (a crash after the effect committed,
before the inbox row) finds the payment past ``created`` and does nothing; a repeated PSP call
is harmless, as its idempotency key is the payment or refund id.

``payment-status-applier`` reads webhook-events and judges what the PSP reported, in the
runtime's transaction: database work only.
"""

from __future__ import annotations

from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage, NotYetApplicable, RetryableError
from paykit.db import Connection
from payment_service.bootstrap import PaymentService
from payment_service.domain.psp import PspStatus
from payment_service.domain.reports import PspReport
from payment_service.service_layer.charging import charge_payment
from payment_service.service_layer.errors import (
    RefundNotAcknowledged,
    UnknownPayment,
    UnknownRefund,
)
from payment_service.service_layer.provider import ProviderError
from payment_service.service_layer.refunding import send_refund
from payment_service.service_layer.reports import apply_payment_report, apply_refund_report

PAYMENT_REPORT = "psp.payment_status_received"
REFUND_REPORT = "psp.refund_status_received"


def charger(service: PaymentService) -> Handler:
    provider = service.provider

    def handle(conn: Connection, envelope: Envelope) -> None:
        try:
            if envelope.type == "payment.created":
                charge_payment(envelope.data["payment_id"], provider, envelope)
            elif envelope.type == "refund.requested":
                send_refund(envelope.data["refund_id"], provider, envelope)
        except ProviderError as error:
            raise RetryableError(str(error)) from error
        except (UnknownPayment, UnknownRefund) as error:
            # Our own event names a row committed before it was published: never a race.
            raise InvalidMessage(f"unknown payment or refund {error}") from error

    return handle


def report_from(envelope: Envelope) -> PspReport:
    data = envelope.data
    return PspReport(
        event_id=data["psp_event_id"],
        payment_id=data["payment_id"],
        status=PspStatus(data["status"]),
        amount=data.get("amount"),
        currency=data.get("currency"),
        psp_reference=data.get("psp_reference"),
        failure_code=data.get("failure_code"),
        refund_id=data.get("refund_id"),
    )


def status_applier(service: PaymentService) -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        uow = service.unit_of_work_on(conn)
        try:
            if envelope.type == PAYMENT_REPORT:
                apply = apply_payment_report
            elif envelope.type == REFUND_REPORT:
                apply = apply_refund_report
            else:
                # Payout outcomes (psp.payout_status_received) share the topic but are the
                # settlement service's: applied here as nothing, so never dead-lettered.
                return
            apply(
                report_from(envelope),
                uow,
                service.clock(),
                envelope,
                confirm_after=service.stuck_after,
            )
        except (UnknownPayment, UnknownRefund, RefundNotAcknowledged) as error:
            # Possibly a race with the charger's commit: the retry tiers, then the DLQ, never
            # counted toward the DLQ limit (a burst of them must not park the applier).
            raise NotYetApplicable(str(error)) from error

    return handle

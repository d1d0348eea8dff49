"""Event handlers for the payment service's two consumer groups.

``payment-psp-charger`` reads the service's own payment-events and talks to the PSP (one
transaction per event: a PSP call must not hold a whole batch's locks). ``payment-status-applier``
reads webhook-events and applies what the PSP reported.
"""

from __future__ import annotations

from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage, RetryableError
from paykit.db import Connection
from payment_service.adapters.repository import PostgresUnitOfWork
from payment_service.service_layer import handlers
from payment_service.service_layer.provider import PaymentProvider, ProviderUnavailable


def charger(psp: PaymentProvider) -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        uow = PostgresUnitOfWork(conn)
        try:
            if envelope.type == "payment.created":
                handlers.charge_payment(envelope.data["payment_id"], uow, psp, envelope)
            elif envelope.type == "refund.requested":
                handlers.refund_at_psp(envelope.data["refund_id"], uow, psp, envelope)
        except ProviderUnavailable as error:
            raise RetryableError(str(error)) from error
        except handlers.UnknownPayment as error:
            raise InvalidMessage(f"unknown payment or refund {error}") from error

    return handle


def status_applier() -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        uow = PostgresUnitOfWork(conn)
        data = envelope.data
        try:
            if envelope.type == "psp.payment_status_received":
                handlers.apply_payment_status(
                    data["payment_id"],
                    data["status"],
                    uow,
                    envelope,
                    amount=data.get("amount"),
                    psp_reference=data.get("psp_reference"),
                    failure_code=data.get("failure_code"),
                )
            elif envelope.type == "psp.refund_status_received":
                handlers.apply_refund_status(
                    data.get("refund_id"),
                    data["status"],
                    uow,
                    envelope,
                    psp_reference=data.get("psp_reference"),
                    failure_code=data.get("failure_code"),
                )
        except (handlers.UnknownPayment, ValueError) as error:
            raise InvalidMessage(str(error)) from error

    return handle

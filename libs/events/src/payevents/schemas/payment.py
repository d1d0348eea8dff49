"""Facts about a payment's life, published by the payment service on payment-events."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema, Text
from payevents.registry import EventRegistry, Upcaster


class PaymentFacts(StrictSchema):
    payment_id = f.payment_id()
    merchant_id = f.identifier("The merchant that owns the payment.")
    amount = f.amount("Payment amount in minor units of the currency.")
    currency = f.currency()


class PaymentCreatedV1(PaymentFacts):
    """A merchant asked for a payment; the payment service consumes this to charge the PSP."""

    payment_method = f.identifier("Payment method token handed to the PSP.")
    description = f.free_text("Merchant's description of the payment.", max_length=255)
    metadata = fields.Dict(
        keys=f.Text(validate=validate.Length(min=1, max=40)),
        values=f.Text(validate=validate.Length(max=500)),
        validate=validate.Length(max=50),
        load_default=dict,
        metadata={"description": "Merchant's own key/value pairs, returned untouched."},
    )


class PaymentCreatedV2(PaymentCreatedV1):
    """A merchant asked for a payment, stating whether the PSP captures it at once."""

    capture_method = f.choice(
        "automatic captures at authorisation; manual waits for an explicit capture.",
        ("automatic", "manual"),
        default="automatic",
    )


def assume_automatic_capture(data: dict[str, Any]) -> dict[str, Any]:
    """Every v1 payment was captured at authorisation: manual capture did not exist yet."""
    data["capture_method"] = "automatic"
    return data


class PaymentProcessingV1(PaymentFacts):
    """The PSP accepted the charge and the outcome will arrive later by webhook."""

    psp_reference = f.identifier("The PSP's charge id, when it answered.", optional=True)


class PaymentSucceededV1(PaymentFacts):
    """The PSP confirmed the charge: the merchant is owed the amount."""

    psp_reference = f.identifier("The PSP's charge id.", optional=True)


class PaymentFailedV1(PaymentFacts):
    """The charge will not happen; nothing is owed."""

    failure_code = f.code("Why it failed, e.g. card_declined, insufficient_funds, psp_error.")
    failure_message = f.free_text("Human-readable detail from the PSP or the platform.")
    psp_reference = f.identifier("The PSP's charge id, when it answered.", optional=True)


def corrected_from(status: str) -> Text:
    """Optional: set only on a correction, naming the status the PSP's own record overturned."""
    return Text(
        load_default=None,
        validate=validate.OneOf((status,)),
        metadata={
            "description": f"Set when this event corrects an earlier payment.{status}: the PSP's"
            " own record says otherwise. Absent on the ordinary path."
        },
    )


class PaymentSucceededV2(PaymentSucceededV1):
    """The PSP confirmed the charge, possibly overturning a failure reported earlier."""

    corrected_from = corrected_from("failed")


class PaymentFailedV2(PaymentFailedV1):
    """The charge will not happen, possibly overturning a success reported earlier."""

    corrected_from = corrected_from("succeeded")


class PaymentCanceledV1(PaymentFacts):
    """The payment was stopped before it succeeded."""

    cancellation_reason = f.code("Why, e.g. requested_by_merchant, expired, fraud_suspected.")


def register(registry: EventRegistry) -> None:
    registry.register("payment.created", 1, PaymentCreatedV1)
    registry.register(
        "payment.created",
        2,
        PaymentCreatedV2,
        upcaster=Upcaster(assume_automatic_capture, touches=frozenset({"capture_method"})),
    )
    registry.register("payment.processing", 1, PaymentProcessingV1)
    registry.register("payment.succeeded", 1, PaymentSucceededV1)
    registry.register("payment.succeeded", 2, PaymentSucceededV2)
    registry.register("payment.failed", 1, PaymentFailedV1)
    registry.register("payment.failed", 2, PaymentFailedV2)
    registry.register("payment.canceled", 1, PaymentCanceledV1)

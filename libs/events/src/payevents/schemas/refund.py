"""Facts about refunds, published by the payment service on payment-events."""

from __future__ import annotations

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema
from payevents.registry import EventRegistry


class RefundFacts(StrictSchema):
    refund_id = f.identifier("The platform's refund reference.")
    payment_id = f.payment_id("The payment being refunded.")
    merchant_id = f.identifier("The merchant that owns the payment.")
    amount = f.amount("Refund amount in minor units; at most what is left to refund.")
    currency = f.currency("ISO 4217 currency code, always the payment's currency.")


class RefundRequestedV1(RefundFacts):
    """A merchant asked for money back to the customer; the PSP has not answered yet."""

    reason = f.free_text("Merchant's reason for the refund.")


class RefundSucceededV1(RefundFacts):
    """The PSP returned the money: the merchant's balance goes down by the amount."""

    psp_reference = f.identifier("The PSP's refund id.", optional=True)


class RefundFailedV1(RefundFacts):
    """The PSP refused the refund; balances do not move."""

    failure_code = f.code("Why it failed, e.g. insufficient_balance, psp_error.")
    failure_message = f.free_text("Human-readable detail from the PSP or the platform.")
    psp_reference = f.identifier("The PSP's refund id, when it answered.", optional=True)


def register(registry: EventRegistry) -> None:
    registry.register("refund.requested", 1, RefundRequestedV1)
    registry.register("refund.succeeded", 1, RefundSucceededV1)
    registry.register("refund.failed", 1, RefundFailedV1)

"""What the PSP (and the bank it plays) told us by webhook, published by the webhook service on
webhook-events.

The webhook service only verifies and translates; the payment service decides what a status
means for the payment. Statuses are already mapped to the platform's vocabulary here, so no
consumer ever sees the PSP's own spelling (``SUCCESS``). Amount and currency are optional
because the legacy webhook body carries no currency and may carry no amount.
"""

from __future__ import annotations

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema
from payevents.registry import EventRegistry


class PspStatusFacts(StrictSchema):
    psp_event_id = f.identifier("The PSP's webhook event id, used to drop replays.")
    payment_id = f.payment_id("The PSP's paymentRef: the platform's payment reference.")
    amount = f.amount("Amount the PSP reports, in minor units.", optional=True)
    currency = f.currency("Currency the PSP reports.", optional=True)
    received_at = f.timestamp("When the webhook service accepted the webhook.")
    psp_reference = f.identifier("The PSP's own charge or refund id.", optional=True)
    failure_code = f.code("The PSP's failure reason, for failed statuses.", optional=True)


class PspPaymentStatusReceivedV1(PspStatusFacts):
    """The PSP reported a payment's status in a verified webhook."""

    status = f.choice(
        "Status in the platform's vocabulary.", ("processing", "succeeded", "failed", "canceled")
    )


class PspRefundStatusReceivedV1(PspStatusFacts):
    """The PSP reported a refund's status in a verified webhook."""

    refund_id = f.identifier(
        "The platform's refund reference, when the PSP echoes it.", optional=True
    )
    status = f.choice("Status in the platform's vocabulary.", ("processing", "succeeded", "failed"))


class PspPayoutStatusReceivedV1(StrictSchema):
    """The bank reported a payout's outcome in a verified webhook; keyed by batch id.

    One payout is one attempt at paying a settlement batch. The settlement service decides
    what the outcome means for the batch; the payment service ignores these.
    """

    payout_id = f.identifier("The bank's payout id.")
    batch_id = f.identifier("The settlement batch the payout pays.")
    attempt = f.attempt("Which attempt at paying the batch, from 1.")
    merchant_id = f.identifier("The merchant paid.")
    status = f.choice("The payout's outcome.", ("paid", "failed"))
    amount = f.amount("Amount paid out, in minor units.")
    currency = f.currency("Currency of the payout.")
    failure_code = f.code("Why the bank failed the payout, for failed payouts.", optional=True)
    failure_message = f.free_text("The bank's explanation, for people.")
    occurred_at = f.timestamp("When the bank decided the payout.")


def register(registry: EventRegistry) -> None:
    registry.register("psp.payment_status_received", 1, PspPaymentStatusReceivedV1)
    registry.register("psp.refund_status_received", 1, PspRefundStatusReceivedV1)
    registry.register("psp.payout_status_received", 1, PspPayoutStatusReceivedV1)

"""The statuses the public API shows for payments, refunds and settlement batches.

They are part of the contract like the events are: the gateway documents and validates them, and
the dashboard and payctl filter and follow by them. The payment and settlement services' own
enums hold the same values, in the same order, and their tests hold them to these.
"""

from __future__ import annotations

from typing import Final

PAYMENT_STATUSES: Final = (
    "created",
    "processing",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
)
PAID_PAYMENT_STATUSES: Final = frozenset({"succeeded", "partially_refunded", "refunded"})
"""The payment was charged: the money was taken, whatever has been refunded since."""
UNPAID_PAYMENT_STATUSES: Final = frozenset({"failed", "canceled"})
"""The payment ended without taking money."""

REFUND_STATUSES: Final = ("requested", "succeeded", "failed")

BATCH_STATUSES: Final = ("open", "closed", "submitted", "paid", "failed")
CLOSED_BATCH_STATUSES: Final = frozenset(BATCH_STATUSES) - {"open"}
"""The batch takes no more items."""

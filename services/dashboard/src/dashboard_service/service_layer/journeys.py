"""A payment with everything its page shows, read through the public API.

The batch holding a payment is found as ``payctl payments follow`` finds it: the merchant's
batches in the payment's currency created since the payment, opened one by one until one has
an item for it. Its posting is the merchant's escrow entry of that item's ledger transaction
(or, where the ledger's entries name their payment, the entry naming it), searched newest first
back to the payment's creation. Both searches are bounded, so a page stays quick for a merchant
with a long history; what is not found within the bounds shows as not visible yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from dashboard_service.adapters.platform_api import PlatformApi
from dashboard_service.domain.timeline import (
    Journey,
    is_posting_of,
    item_for_payment,
)
from dashboard_service.domain.times import parse_time
from payevents.statuses import PAID_PAYMENT_STATUSES

BATCH_PAGES: Final = 3
ENTRY_PAGES: Final = 5
ENTRIES_PER_PAGE: Final = 200


@dataclass(frozen=True)
class PaymentPage:
    payment: dict[str, Any]
    refunds: list[dict[str, Any]]
    journey: Journey
    item: Mapping[str, Any] | None = None
    refundable: int = 0
    notes: list[str] = field(default_factory=list)


def payment_page(api: PlatformApi, payment_id: str) -> PaymentPage:
    payment: dict[str, Any] = api.get(f"/v1/payments/{payment_id}")
    refunds = list(_pages(api, f"/v1/payments/{payment_id}/refunds", {"limit": 100}, pages=5))
    batch = item = posting = None
    if payment.get("status") in PAID_PAYMENT_STATUSES:
        batch = _batch_holding(api, payment)
        item = item_for_payment(batch, payment_id) if batch else None
        transaction_id = str(item["ledger_transaction_id"]) if item else None
        posting = _posting(api, payment, transaction_id)
    pending_refunds = sum(r.get("amount", 0) for r in refunds if r.get("status") == "requested")
    refundable = (
        int(payment.get("amount", 0)) - int(payment.get("amount_refunded", 0)) - pending_refunds
        if payment.get("status") in PAID_PAYMENT_STATUSES
        else 0
    )
    return PaymentPage(payment, refunds, Journey(payment, batch, posting), item, max(refundable, 0))


def _pages(
    api: PlatformApi, path: str, params: Mapping[str, Any], *, pages: int
) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    for _ in range(pages):
        found = api.get(path, {**params, "cursor": cursor})
        yield from found.get("data") or []
        cursor = found.get("next_cursor")
        if not cursor:
            return


def _batch_holding(api: PlatformApi, payment: Mapping[str, Any]) -> dict[str, Any] | None:
    query = {"from": payment.get("created_at"), "currency": payment.get("currency"), "limit": 50}
    for listed in _pages(api, "/v1/settlements", query, pages=BATCH_PAGES):
        batch: dict[str, Any] = api.get(f"/v1/settlements/{listed['id']}")
        if item_for_payment(batch, str(payment["id"])) is not None:
            return batch
    return None


def _posting(
    api: PlatformApi, payment: Mapping[str, Any], transaction_id: str | None
) -> dict[str, Any] | None:
    query = {"account": "escrow", "currency": payment.get("currency"), "limit": ENTRIES_PER_PAGE}
    created_at = parse_time(payment.get("created_at"))
    for entry in _pages(api, "/v1/ledger/entries", query, pages=ENTRY_PAGES):
        if is_posting_of(entry, str(payment["id"]), transaction_id):
            return entry
        effective_at = parse_time(entry.get("effective_at"))
        if created_at and effective_at and effective_at < created_at:
            return None  # older than the payment: its posting is not further back
    return None

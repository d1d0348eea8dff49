"""Settlement items: what a ledger posting of a payment, refund or reversal means for a payout.

A payment of A with fee F adds A - F (what went into escrow); a refund of R takes R away (the
ledger keeps the fee of a refunded payment, so a refund item has no fee). A reversal (the PSP's
record overturned the payment's success) takes back A - F: the ledger returned the fee F and
took A - F from escrow, or made it owed where escrow no longer held it. Every other kind of
posting (a settlement, a payout, an adjustment) is not an item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

PSP_CLEARING: Final = "psp_clearing"
PLATFORM_FEES: Final = "platform:fees"
# The ledger's transaction kind each item kind comes from.
LEDGER_KIND_OF_ITEM: Final = {
    "payment": "payment",
    "refund": "refund",
    "reversal": "payment_reversal",
}
ITEM_KIND_OF_LEDGER: Final = {ledger: item for item, ledger in LEDGER_KIND_OF_ITEM.items()}


@dataclass(frozen=True)
class Item:
    id: str
    ledger_transaction_id: str
    source_event_id: str
    merchant_id: str
    currency: str
    kind: str
    payment_id: str | None
    refund_id: str | None
    gross_amount: int
    fee_amount: int
    effective_at: datetime

    @property
    def net_amount(self) -> int:
        if self.kind == "refund":
            return -self.gross_amount
        if self.kind == "reversal":
            return self.fee_amount - self.gross_amount
        return self.gross_amount - self.fee_amount


def item_id_for(ledger_transaction_id: str) -> str:
    """Derived from the ledger transaction, so the same posting always names the same item."""
    return "sit_" + hashlib.sha256(ledger_transaction_id.encode()).hexdigest()[:32]


def _sum(entries: Iterable[Mapping[str, Any]], account: str, direction: str) -> int:
    return sum(
        int(e["amount"]) for e in entries if e["account"] == account and e["direction"] == direction
    )


def item_from_posting(
    data: Mapping[str, Any], *, event_id: str, occurred_at: datetime
) -> Item | None:
    """The item a ``ledger.transaction_posted`` stands for; None for kinds that are not items."""
    kind = ITEM_KIND_OF_LEDGER.get(data["kind"])
    if kind is None:
        return None
    entries = data["entries"]
    if kind == "payment":
        gross = _sum(entries, PSP_CLEARING, "debit")
        fee = _sum(entries, PLATFORM_FEES, "credit")
    elif kind == "reversal":
        gross = _sum(entries, PSP_CLEARING, "credit")
        fee = _sum(entries, PLATFORM_FEES, "debit")
    else:
        gross = _sum(entries, PSP_CLEARING, "credit")
        fee = 0
    if gross <= 0:
        raise ValueError(
            f"{kind} transaction {data['transaction_id']} moves nothing through {PSP_CLEARING}"
        )
    return Item(
        id=item_id_for(data["transaction_id"]),
        ledger_transaction_id=data["transaction_id"],
        source_event_id=event_id,
        merchant_id=data["merchant_id"],
        currency=data["currency"],
        kind=kind,
        payment_id=data.get("payment_id"),
        refund_id=data.get("refund_id"),
        gross_amount=gross,
        fee_amount=fee,
        effective_at=data.get("effective_at") or occurred_at,
    )

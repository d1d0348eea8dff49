"""The seal chain, computed independently of the database's own ``ledger_seal_transaction``.

Each committed journal transaction is sealed with ``sha256(content)``, where the content names
the sequence number, the previous seal's hash, every field of the transaction and its entries in
order. Every field is written as ``<length>:<value>;`` (``-;`` for none), so no value can pass
for two. `ledger verify` recomputes it here; an edit the triggers could not stop (a superuser's)
changes the content, and the first seal whose hash no longer matches names it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

GENESIS_HASH: Final = bytes(32)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SealedEntry:
    account: str
    side: str
    amount: int


@dataclass(frozen=True)
class SealedTransaction:
    id: str
    reference: str
    business_key: str
    kind: str
    currency: str
    merchant_id: str | None
    payment_id: str | None
    refund_id: str | None
    settlement_batch_id: str | None
    reason: str | None
    actor: str | None
    effective_at: datetime
    recorded_at: datetime
    entries: Sequence[SealedEntry]


def _field(value: str | None) -> str:
    return "-;" if value is None else f"{len(value)}:{value};"


def _micros(moment: datetime) -> str:
    return str((moment - _EPOCH) // timedelta(microseconds=1))


def seal_content(seq: int, previous_hash: bytes, tx: SealedTransaction) -> str:
    fields = (
        tx.id,
        tx.reference,
        tx.business_key,
        tx.kind,
        tx.currency,
        tx.merchant_id,
        tx.payment_id,
        tx.refund_id,
        tx.settlement_batch_id,
        tx.reason,
        tx.actor,
        _micros(tx.effective_at),
        _micros(tx.recorded_at),
    )
    head = f"ledger-seal-v1;{seq};{previous_hash.hex()};"
    body = "".join(_field(value) for value in fields)
    entries = "".join(
        _field(entry.account) + _field(entry.side) + _field(str(entry.amount))
        for entry in tx.entries
    )
    return head + body + entries


def seal_hash(seq: int, previous_hash: bytes, tx: SealedTransaction) -> bytes:
    return hashlib.sha256(seal_content(seq, previous_hash, tx).encode()).digest()

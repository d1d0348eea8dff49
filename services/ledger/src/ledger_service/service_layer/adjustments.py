"""Manual adjustments: an operator's balanced transaction with a reason and an actor.

Never an edit: a correction is a new transaction that moves the difference. Its reference (the
request's Idempotency-Key) makes it happen once; the same key with another adjustment conflicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import postings
from ledger_service.domain.accounts import Side
from ledger_service.domain.errors import AdjustmentConflict
from ledger_service.domain.postings import Entry
from ledger_service.service_layer.posting import Recorded, announce, transaction_id_for
from payevents.fieldtypes import format_utc

ADJUSTMENT_SOURCE: Final = "ledger.adjustment"


@dataclass(frozen=True)
class Adjust:
    reference: str
    currency: str
    entries: tuple[Entry, ...]
    reason: str
    actor: str
    effective_at: datetime
    # False when the request named no effective time (now was taken): a repeat then matches
    # whatever time the first one was given.
    effective_at_given: bool = field(default=True, compare=False)

    def repeats(self, stored: Adjust) -> bool:
        if self.effective_at_given:
            return self == stored
        return replace(self, effective_at=stored.effective_at) == stored

    def body(self) -> str:
        """The adjustment as the ledger keeps it, to replay and to compare repeats with."""
        return json.dumps(
            {
                "reference": self.reference,
                "currency": self.currency,
                "entries": postings.entry_views(self.entries),
                "reason": self.reason,
                "actor": self.actor,
                "effective_at": format_utc(self.effective_at),
            },
            sort_keys=True,
        )

    @classmethod
    def from_body(cls, body: str) -> Adjust:
        data: dict[str, Any] = json.loads(body)
        return cls(
            reference=data["reference"],
            currency=data["currency"],
            entries=tuple(
                Entry(e["account"], Side(e["direction"]), e["amount"]) for e in data["entries"]
            ),
            reason=data["reason"],
            actor=data["actor"],
            effective_at=datetime.fromisoformat(data["effective_at"]),
        )


def source_reference(reference: str) -> str:
    return f"adjustment:{reference}"


def adjust(
    repository: LedgerRepository,
    command: Adjust,
    *,
    recorded_at: datetime | None = None,
    replaying: bool = False,
) -> Recorded:
    posting = postings.adjustment(
        command.reference,
        command.currency,
        command.entries,
        reason=command.reason,
        actor=command.actor,
    )
    reference = source_reference(command.reference)
    transaction_id = transaction_id_for(reference)
    stored = repository.conn.execute(
        "SELECT body FROM ledger_source_events WHERE event_id = %s", (reference,)
    ).fetchone()
    if stored is not None:
        if not command.repeats(Adjust.from_body(stored[0])):
            raise AdjustmentConflict(
                f"reference {command.reference!r} was used for another adjustment"
            )
        return Recorded(transaction_id, posting)
    repository.hold_chain()  # so an overdraft is refused now, not at commit
    repository.record(
        transaction_id,
        reference,
        posting,
        effective_at=command.effective_at,
        recorded_at=recorded_at,
    )
    repository.keep_source(reference, transaction_id, ADJUSTMENT_SOURCE, command.body(), {})
    if not replaying:
        announce(repository, transaction_id, posting, command.effective_at, cause=None)
    return Recorded(transaction_id, posting)

"""The balances a posting rule decides on while a batch is being planned.

A refund takes from escrow as far as it holds, a settlement nets what the merchant owes: each
decides on the balance left by everything before it in the stream. In a batch, what came before
may be planned but not yet written; ``Holdings`` answers with the balance read once from the
database (under the chain lock, so no other posting can seal in between) plus what the batch
has planned on that account since, so the whole batch is written at once and decides exactly
as if its events were posted one at a time.
"""

from __future__ import annotations

from collections import defaultdict

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts
from ledger_service.domain.postings import Posting


class Holdings:
    def __init__(self, repository: LedgerRepository) -> None:
        self.repository = repository
        self._read: dict[tuple[str, str], int] = {}
        self._planned: defaultdict[tuple[str, str], int] = defaultdict(int)

    def balance(self, code: str, currency: str) -> int:
        """The account's balance on its normal side, counting what is planned but unwritten."""
        key = (code, currency)
        if key not in self._read:
            self._read[key] = self.repository.locked_balance(code, currency)
        return self._read[key] + self._planned[key]

    def plan(self, posting: Posting) -> None:
        for entry in posting.entries:
            normal = accounts.spec_for(entry.account).normal_side
            delta = entry.amount if entry.side is normal else -entry.amount
            self._planned[(entry.account, posting.currency)] += delta

    def written(self) -> None:
        """What was planned is in the database now: read afresh from here on."""
        self._read.clear()
        self._planned.clear()

"""SQL for posting: accounts on demand, locked balances, journal transactions and their sources.

Everything runs in the caller's transaction (a consumer's batch or a request's); the database's
triggers do the rest (balances, the balance check and the seal at commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.postings import Entry, Posting
from paykit.db import Connection

_FIND_ACCOUNTS = "SELECT code, id FROM ledger_accounts WHERE currency = %s AND code = ANY(%b)"
# Only accounts not there yet are attempted: opening one takes the chain lock (migration 0003).
_OPEN_ACCOUNTS = (
    "INSERT INTO ledger_accounts"
    " (code, currency, type, normal_side, merchant_id, never_negative, shards)"
    " SELECT code, %(currency)s, type, side, merchant, never_negative, shards FROM unnest("
    "%(codes)b::text[], %(types)b::text[], %(sides)b::text[], %(merchants)b::text[],"
    " %(never_negative)b::boolean[], %(shards)b::integer[])"
    " AS u(code, type, side, merchant, never_negative, shards)"
    " WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a"
    "   WHERE a.code = u.code AND a.currency = %(currency)s)"
    " ORDER BY code ON CONFLICT (code, currency) DO NOTHING"
)
_INSERT_TRANSACTIONS = (
    "INSERT INTO ledger_transactions (id, reference, business_key, kind, currency, merchant_id,"
    " payment_id, refund_id, settlement_batch_id, reason, actor, effective_at, recorded_at)"
    " SELECT id, reference, business_key, kind, currency, merchant_id, payment_id, refund_id,"
    " settlement_batch_id, reason, actor, effective_at, coalesce(recorded_at, now()) FROM unnest("
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[])"
    " WITH ORDINALITY AS u(id, reference, business_key, kind, currency, merchant_id, payment_id,"
    " refund_id, settlement_batch_id, reason, actor, effective_at, recorded_at, n) ORDER BY n"
)
_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (transaction_id, account_id, currency, side, amount)"
    " SELECT u.transaction_id, a.id, u.currency, u.side, u.amount FROM unnest("
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[]) WITH ORDINALITY"
    " AS u(transaction_id, currency, code, side, amount, n)"
    " JOIN ledger_accounts a ON a.code = u.code AND a.currency = u.currency ORDER BY u.n"
)
_KEEP_SOURCES = (
    "INSERT INTO ledger_source_events (event_id, transaction_id, event_type, body, context)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[]::jsonb[])"
)


@dataclass(frozen=True)
class Record:
    """A journal transaction to write: its id, its cause's reference and what it posts."""

    transaction_id: str
    reference: str
    posting: Posting
    effective_at: datetime
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class Source:
    """What a transaction was posted from, kept for ``ledger rebuild``."""

    event_id: str
    transaction_id: str
    event_type: str
    body: str
    context: Mapping[str, Any]


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def account_ids(self, codes: Iterable[str], currency: str) -> dict[str, int]:
        """The accounts' ids, opening those that do not exist yet (sorted, so never a deadlock)."""
        wanted = sorted(set(codes))
        found: dict[str, int] = dict(
            self.conn.execute(_FIND_ACCOUNTS, (currency, wanted)).fetchall()
        )
        missing = [code for code in wanted if code not in found]
        if missing:
            self.open_accounts(missing, currency)
            found = dict(self.conn.execute(_FIND_ACCOUNTS, (currency, wanted)).fetchall())
        return found

    def open_accounts(self, codes: Iterable[str], currency: str) -> None:
        """Open those of the accounts that do not exist yet; reads nothing back."""
        specs = [accounts.spec_for(code) for code in sorted(set(codes))]
        self.conn.execute(
            _OPEN_ACCOUNTS,
            {
                "currency": currency,
                "codes": [spec.code for spec in specs],
                "types": [spec.type.value for spec in specs],
                "sides": [spec.normal_side.value for spec in specs],
                "merchants": [spec.merchant_id for spec in specs],
                "never_negative": [spec.never_negative for spec in specs],
                "shards": [spec.shards for spec in specs],
            },
        )

    def hold_chain(self) -> None:
        """Take the chain lock for the rest of the transaction (balances queued so far apply)."""
        self.conn.execute("INSERT INTO ledger_chain_requests DEFAULT VALUES")

    def locked_balance(self, code: str, currency: str) -> int:
        """An account's balance for a decision, as of everything sealed before this posting.

        Under the chain lock, held until commit: only its holder writes balances, so no other
        posting changes this one or seals in between (no row lock is needed).
        """
        self.hold_chain()
        account_id = self.account_ids([code], currency)[code]
        row = self.conn.execute(
            "SELECT balance FROM ledger_balances WHERE account_id = %s AND shard = 0",
            (account_id,),
        ).fetchone()
        assert row is not None, f"account {code} has no balance row"
        return int(row[0])

    def is_posted(self, reference: str, business_key: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM ledger_transactions WHERE reference = %s OR business_key = %s LIMIT 1",
            (reference, business_key),
        ).fetchone()
        return row is not None

    def posted_among(self, references: Sequence[str], business_keys: Sequence[str]) -> set[str]:
        """Which of the references and business keys a posted transaction already has."""
        rows = self.conn.execute(
            "SELECT reference, business_key FROM ledger_transactions"
            " WHERE reference = ANY(%b) OR business_key = ANY(%b)",
            (list(references), list(business_keys)),
        ).fetchall()
        return {value for row in rows for value in row}

    def entries_of(self, business_key: str) -> tuple[str, list[Entry]] | None:
        """A posted transaction's id and entries, found by what it was about."""
        rows = self.conn.execute(
            "SELECT t.id, a.code, e.side, e.amount FROM ledger_transactions t"
            " JOIN ledger_entries e ON e.transaction_id = t.id"
            " JOIN ledger_accounts a ON a.id = e.account_id"
            " WHERE t.business_key = %s ORDER BY e.id",
            (business_key,),
        ).fetchall()
        if not rows:
            return None
        return rows[0][0], [Entry(code, Side(side), amount) for _, code, side, amount in rows]

    def record(
        self,
        transaction_id: str,
        reference: str,
        posting: Posting,
        *,
        effective_at: datetime,
        recorded_at: datetime | None,
    ) -> None:
        self.record_all([Record(transaction_id, reference, posting, effective_at, recorded_at)])

    def record_all(self, records: Sequence[Record]) -> None:
        """Write the transactions and their entries in order, reading nothing back.

        Three statements whatever the count, so a caller can send them in one pipeline; the
        triggers queue the balances and the seals.
        """
        by_currency: dict[str, set[str]] = {}
        for record in records:
            codes = by_currency.setdefault(record.posting.currency, set())
            codes.update(entry.account for entry in record.posting.entries)
        for currency, codes in sorted(by_currency.items()):
            self.open_accounts(codes, currency)
        postings = [record.posting for record in records]
        self.conn.execute(
            _INSERT_TRANSACTIONS,
            (
                [record.transaction_id for record in records],
                [record.reference for record in records],
                [posting.business_key for posting in postings],
                [posting.kind for posting in postings],
                [posting.currency for posting in postings],
                [posting.merchant_id for posting in postings],
                [posting.payment_id for posting in postings],
                [posting.refund_id for posting in postings],
                [posting.settlement_batch_id for posting in postings],
                [posting.reason for posting in postings],
                [posting.actor for posting in postings],
                [record.effective_at for record in records],
                [record.recorded_at for record in records],
            ),
        )
        entries = [
            (record.transaction_id, record.posting.currency, entry)
            for record in records
            for entry in record.posting.entries
        ]
        self.conn.execute(
            _INSERT_ENTRIES,
            (
                [transaction_id for transaction_id, _, _ in entries],
                [currency for _, currency, _ in entries],
                [entry.account for _, _, entry in entries],
                [entry.side.value for _, _, entry in entries],
                [entry.amount for _, _, entry in entries],
            ),
        )

    def recorded_at(self, transaction_id: str) -> datetime:
        row = self.conn.execute(
            "SELECT recorded_at FROM ledger_transactions WHERE id = %s", (transaction_id,)
        ).fetchone()
        assert row is not None, f"no transaction {transaction_id}"
        recorded: datetime = row[0]
        return recorded

    def keep_source(
        self,
        event_id: str,
        transaction_id: str,
        event_type: str,
        body: str,
        context: Mapping[str, Any],
    ) -> None:
        self.keep_sources([Source(event_id, transaction_id, event_type, body, context)])

    def keep_sources(self, sources: Sequence[Source]) -> None:
        self.conn.execute(
            _KEEP_SOURCES,
            (
                [source.event_id for source in sources],
                [source.transaction_id for source in sources],
                [source.event_type for source in sources],
                [source.body for source in sources],
                [json.dumps(dict(source.context)) for source in sources],
            ),
        )

"""SQL for posting: accounts on demand, locked balances, journal transactions and their sources.

Everything runs in the caller's transaction (a consumer's batch or a request's); the database's
triggers do the rest (balances, the balance check and the seal at commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.postings import Entry, Posting
from paykit.db import Connection

_FIND_ACCOUNTS = "SELECT code, id FROM ledger_accounts WHERE currency = %s AND code = ANY(%s)"
# Only accounts not there yet are attempted: opening one takes the chain lock (migration 0003).
_OPEN_ACCOUNTS = (
    "INSERT INTO ledger_accounts"
    " (code, currency, type, normal_side, merchant_id, never_negative, shards)"
    " SELECT code, %(currency)s, type, side, merchant, never_negative, shards FROM unnest("
    "%(codes)s::text[], %(types)s::text[], %(sides)s::text[], %(merchants)s::text[],"
    " %(never_negative)s::boolean[], %(shards)s::integer[])"
    " AS u(code, type, side, merchant, never_negative, shards)"
    " WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a"
    "   WHERE a.code = u.code AND a.currency = %(currency)s)"
    " ORDER BY code ON CONFLICT (code, currency) DO NOTHING"
)
_INSERT_TRANSACTION = (
    "INSERT INTO ledger_transactions (id, reference, business_key, kind, currency, merchant_id,"
    " payment_id, refund_id, settlement_batch_id, reason, actor, effective_at, recorded_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))"
)
_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (transaction_id, account_id, currency, side, amount)"
    " SELECT %(transaction)s, a.id, %(currency)s, u.side, u.amount"
    " FROM unnest(%(codes)s::text[], %(sides)s::text[], %(amounts)s::bigint[]) WITH ORDINALITY"
    " AS u(code, side, amount, n)"
    " JOIN ledger_accounts a ON a.code = u.code AND a.currency = %(currency)s ORDER BY u.n"
)


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

        Under the chain lock, held until commit, so no other posting seals in between.
        """
        self.hold_chain()
        account_id = self.account_ids([code], currency)[code]
        row = self.conn.execute(
            "SELECT balance FROM ledger_balances WHERE account_id = %s AND shard = 0 FOR UPDATE",
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
        """Writes without reading back, so a caller can send it in one pipeline."""
        self.open_accounts((entry.account for entry in posting.entries), posting.currency)
        self.conn.execute(
            _INSERT_TRANSACTION,
            (
                transaction_id,
                reference,
                posting.business_key,
                posting.kind,
                posting.currency,
                posting.merchant_id,
                posting.payment_id,
                posting.refund_id,
                posting.settlement_batch_id,
                posting.reason,
                posting.actor,
                effective_at,
                recorded_at,
            ),
        )
        self.conn.execute(
            _INSERT_ENTRIES,
            {
                "transaction": transaction_id,
                "currency": posting.currency,
                "codes": [entry.account for entry in posting.entries],
                "sides": [entry.side.value for entry in posting.entries],
                "amounts": [entry.amount for entry in posting.entries],
            },
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
        self.conn.execute(
            "INSERT INTO ledger_source_events (event_id, transaction_id, event_type, body, context)"
            " VALUES (%s, %s, %s, %s, %s)",
            (event_id, transaction_id, event_type, body, json.dumps(dict(context))),
        )

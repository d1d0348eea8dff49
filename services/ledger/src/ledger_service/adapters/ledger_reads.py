"""SQL for the read API: balances now and as of a time, entries, transactions, trial balance.

Balances now are the sums of the balance rows (a hot account's sub-balances added up); balances
as of a time are summed from the entries effective by then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from paykit.db import Connection

_BALANCES_NOW = (
    "SELECT a.code, a.currency, a.type, a.normal_side, coalesce(sum(b.balance), 0)::bigint"
    " AS balance FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id"
    " WHERE {where} GROUP BY a.id ORDER BY a.currency, a.code"
)
_BALANCES_AS_OF = (
    "SELECT a.code, a.currency, a.type, a.normal_side, coalesce(sum("
    "   CASE WHEN e.side = a.normal_side THEN e.amount ELSE -e.amount END), 0)::bigint AS balance"
    " FROM ledger_accounts a"
    " LEFT JOIN ledger_entries e ON e.account_id = a.id AND EXISTS ("
    "   SELECT 1 FROM ledger_transactions t"
    "   WHERE t.id = e.transaction_id AND t.effective_at <= %(as_of)s)"
    " WHERE {where} GROUP BY a.id ORDER BY a.currency, a.code"
)
_ENTRIES = (
    "SELECT e.id, e.transaction_id, t.kind, e.side AS direction, e.amount, e.currency,"
    " t.payment_id, t.refund_id, t.settlement_batch_id, t.effective_at, t.recorded_at"
    " FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id"
    " WHERE e.account_id = %(account)s AND (%(before)s::bigint IS NULL OR e.id < %(before)s)"
    " ORDER BY e.id DESC LIMIT %(limit)s"
)
_TRANSACTION = (
    "SELECT t.id, t.reference, t.kind, t.currency, t.merchant_id, t.payment_id, t.refund_id,"
    " t.settlement_batch_id, t.reason, t.actor, t.effective_at, t.recorded_at, s.seq,"
    " encode(s.hash, 'hex') AS hash"
    " FROM ledger_transactions t LEFT JOIN ledger_seals s ON s.transaction_id = t.id"
    " WHERE t.id = %s"
)
_TRANSACTION_ENTRIES = (
    "SELECT a.code AS account, e.side AS direction, e.amount FROM ledger_entries e"
    " JOIN ledger_accounts a ON a.id = e.account_id WHERE e.transaction_id = %s ORDER BY e.id"
)
_TRANSACTIONS_IN_PERIOD = (
    "SELECT s.seq, t.id, t.reference, t.kind, t.currency, t.merchant_id, t.payment_id,"
    " t.refund_id, t.settlement_batch_id, t.effective_at, t.recorded_at"
    " FROM ledger_transactions t JOIN ledger_seals s ON s.transaction_id = t.id"
    " WHERE t.effective_at >= %(start)s AND t.effective_at < %(end)s"
    " AND (%(kinds)s::text[] IS NULL OR t.kind = ANY(%(kinds)s::text[]))"
    " AND (%(merchant)s::text IS NULL OR t.merchant_id = %(merchant)s)"
    " AND s.seq > %(after)s ORDER BY s.seq LIMIT %(limit)s"
)
_ENTRIES_OF_TRANSACTIONS = (
    "SELECT e.transaction_id, a.code AS account, e.side AS direction, e.amount"
    " FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id"
    " WHERE e.transaction_id = ANY(%s) ORDER BY e.id"
)
_TRIAL_BALANCE = (
    "WITH moved AS ("
    "  SELECT e.account_id, sum(e.amount) FILTER (WHERE e.side = 'debit') AS debits,"
    "         sum(e.amount) FILTER (WHERE e.side = 'credit') AS credits"
    "  FROM ledger_entries e GROUP BY e.account_id),"
    " kept AS (SELECT account_id, sum(debits) AS debits, sum(credits) AS credits,"
    "  sum(balance) AS balance FROM ledger_balances GROUP BY account_id)"
    " SELECT a.code, a.currency, a.type, a.normal_side,"
    "  coalesce(m.debits, 0)::bigint AS debits, coalesce(m.credits, 0)::bigint AS credits,"
    "  coalesce(k.balance, 0)::bigint AS balance,"
    "  (coalesce(k.debits, 0) = coalesce(m.debits, 0)"
    "   AND coalesce(k.credits, 0) = coalesce(m.credits, 0)) AS matches_entries"
    " FROM ledger_accounts a LEFT JOIN moved m ON m.account_id = a.id"
    " LEFT JOIN kept k ON k.account_id = a.id ORDER BY a.currency, a.code"
)


class LedgerReads:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _rows(self, query: str, params: Any) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, params).fetchall()

    def balances(self, *, merchant_id: str | None, as_of: datetime | None) -> list[dict[str, Any]]:
        """A merchant's accounts, or the platform's (``merchant_id`` None)."""
        where = "a.merchant_id = %(merchant)s" if merchant_id else "a.merchant_id IS NULL"
        template = _BALANCES_NOW if as_of is None else _BALANCES_AS_OF
        return self._rows(template.format(where=where), {"merchant": merchant_id, "as_of": as_of})

    def account_id(self, code: str, currency: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM ledger_accounts WHERE code = %s AND currency = %s", (code, currency)
        ).fetchone()
        return None if row is None else int(row[0])

    def entries(self, account_id: int, *, before: int | None, limit: int) -> list[dict[str, Any]]:
        return self._rows(_ENTRIES, {"account": account_id, "before": before, "limit": limit})

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        found = self._rows(_TRANSACTION, (transaction_id,))
        if not found:
            return None
        transaction = found[0]
        transaction["entries"] = self._rows(_TRANSACTION_ENTRIES, (transaction_id,))
        return transaction

    def transactions_in_period(
        self,
        start: datetime,
        end: datetime,
        *,
        kinds: list[str] | None,
        merchant_id: str | None,
        after: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Sealed transactions effective in [start, end), in seal order after seal ``after``."""
        found = self._rows(
            _TRANSACTIONS_IN_PERIOD,
            {
                "start": start,
                "end": end,
                "kinds": kinds,
                "merchant": merchant_id,
                "after": after,
                "limit": limit,
            },
        )
        entries: dict[str, list[dict[str, Any]]] = {row["id"]: [] for row in found}
        for entry in self._rows(_ENTRIES_OF_TRANSACTIONS, (list(entries),)):
            entries[entry.pop("transaction_id")].append(entry)
        for row in found:
            row["entries"] = entries[row["id"]]
        return found

    def trial_balance(self) -> list[dict[str, Any]]:
        return self._rows(_TRIAL_BALANCE, None)

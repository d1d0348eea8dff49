"""`ledger verify`: recompute the seal chain and every balance from the entries.

Trusts nothing the database computed: each seal's hash is recomputed here from the rows
(``domain.chain``), each balance from the entries. Reports the first break of the chain and every
balance that disagrees, and checks that the guards (the triggers) are all there and enabled,
since the owner of the tables could drop or disable them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from ledger_service.domain.chain import (
    GENESIS_HASH,
    SealedEntry,
    SealedTransaction,
    seal_hash,
)
from paykit.db import Connection

GUARD_TRIGGERS: Final = frozenset(
    {
        ("ledger_accounts", "ledger_accounts_append_only"),
        ("ledger_accounts", "ledger_accounts_no_truncate"),
        ("ledger_accounts", "ledger_accounts_open_balances"),
        ("ledger_transactions", "ledger_transactions_append_only"),
        ("ledger_transactions", "ledger_transactions_no_truncate"),
        ("ledger_transactions", "ledger_transactions_balance_and_seal"),
        ("ledger_entries", "ledger_entries_append_only"),
        ("ledger_entries", "ledger_entries_no_truncate"),
        ("ledger_entries", "ledger_entries_apply"),
        ("ledger_seals", "ledger_seals_append_only"),
        ("ledger_seals", "ledger_seals_no_truncate"),
        ("ledger_seals", "ledger_seals_written_at_commit"),
        ("ledger_source_events", "ledger_source_events_append_only"),
        ("ledger_source_events", "ledger_source_events_no_truncate"),
        ("ledger_balances", "ledger_balances_through_entries"),
        ("ledger_balances", "ledger_balances_no_truncate"),
        ("ledger_accounts", "ledger_accounts_under_chain"),
        ("ledger_pending_balance_changes", "ledger_pending_balance_changes_from_entries"),
        ("ledger_pending_balance_changes", "ledger_pending_balance_changes_no_truncate"),
        ("ledger_chain_requests", "ledger_chain_requests_take"),
    }
)

_SEALED_ROWS = (
    "SELECT s.seq, s.previous_hash, s.hash, t.id, t.reference, t.business_key, t.kind,"
    " t.currency, t.merchant_id, t.payment_id, t.refund_id, t.settlement_batch_id, t.reason,"
    " t.actor, t.effective_at, t.recorded_at, a.code, e.side, e.amount"
    " FROM ledger_seals s JOIN ledger_transactions t ON t.id = s.transaction_id"
    " LEFT JOIN ledger_entries e ON e.transaction_id = t.id"
    " LEFT JOIN ledger_accounts a ON a.id = e.account_id"
    " ORDER BY s.seq, e.id"
)
_BALANCES = (
    "WITH moved AS ("
    "  SELECT e.account_id,"
    "         sum(CASE WHEN e.side = a.normal_side THEN e.amount ELSE -e.amount END) AS balance,"
    "         count(*) AS entries"
    "  FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id"
    "  GROUP BY e.account_id),"
    " kept AS (SELECT account_id, sum(balance) AS balance, sum(entry_count) AS entries"
    "  FROM ledger_balances GROUP BY account_id)"
    " SELECT a.code, a.currency, coalesce(k.balance, 0), coalesce(m.balance, 0),"
    "        coalesce(k.entries, 0), coalesce(m.entries, 0)"
    " FROM ledger_accounts a LEFT JOIN kept k ON k.account_id = a.id"
    " LEFT JOIN moved m ON m.account_id = a.id"
    " WHERE coalesce(k.balance, 0) <> coalesce(m.balance, 0)"
    "    OR coalesce(k.entries, 0) <> coalesce(m.entries, 0)"
    " ORDER BY a.code, a.currency"
)


@dataclass
class Verification:
    transactions: int = 0
    head_hash: bytes = GENESIS_HASH
    first_break: str | None = None
    balance_breaks: list[str] = field(default_factory=list)
    guard_breaks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.balance_breaks and not self.guard_breaks


def _sealed_transactions(
    conn: Connection,
) -> Iterator[Sealed]:
    with conn.cursor(name="ledger_verify") as cursor:
        cursor.itersize = 2000
        cursor.execute(_SEALED_ROWS)
        current: list[Any] | None = None
        entries: list[SealedEntry] = []
        for row in cursor:
            if current is not None and row[0] != current[0]:
                yield _sealed(current, entries)
                entries = []
            current = list(row)
            if row[16] is not None:
                entries.append(SealedEntry(row[16], row[17], int(row[18])))
        if current is not None:
            yield _sealed(current, entries)


Sealed = tuple[int, bytes, bytes, SealedTransaction]
_TRANSACTION_FIELDS: Final = (
    "id",
    "reference",
    "business_key",
    "kind",
    "currency",
    "merchant_id",
    "payment_id",
    "refund_id",
    "settlement_batch_id",
    "reason",
    "actor",
    "effective_at",
    "recorded_at",
)


def _sealed(row: list[Any], entries: list[SealedEntry]) -> Sealed:
    fields = dict(zip(_TRANSACTION_FIELDS, row[3:16], strict=True))
    tx = SealedTransaction(**fields, entries=tuple(entries))
    return int(row[0]), bytes(row[1]), bytes(row[2]), tx


def _chain_break(
    seq: int, previous: bytes, stored: bytes, tx: SealedTransaction, expected_seq: int, head: bytes
) -> str | None:
    where = f"seal {seq} (transaction {tx.id}, reference {tx.reference})"
    if seq != expected_seq:
        return f"seal {expected_seq} is missing: the chain jumps to {where}"
    if previous != head:
        return f"{where} does not follow seal {seq - 1}: its previous hash differs"
    if seal_hash(seq, previous, tx) != stored:
        return f"{where}: its rows no longer hash to its seal (changed after it was sealed)"
    debits = sum(e.amount for e in tx.entries if e.side == "debit")
    credits = sum(e.amount for e in tx.entries if e.side == "credit")
    if len(tx.entries) < 2 or debits != credits:
        return f"{where}: does not balance ({debits} debits, {credits} credits)"
    return None


def verify(conn: Connection) -> Verification:
    """Runs in one repeatable-read snapshot, so concurrent posting cannot look like a break."""
    result = Verification()
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    result.guard_breaks = _guard_breaks(conn)
    head = GENESIS_HASH
    for seq, previous, stored, tx in _sealed_transactions(conn):
        result.transactions += 1
        problem = _chain_break(seq, previous, stored, tx, result.transactions, head)
        if problem is not None:
            result.first_break = problem
            break
        head = stored
    result.head_hash = head
    if result.first_break is None:
        unsealed = conn.execute(
            "SELECT t.id FROM ledger_transactions t"
            " WHERE NOT EXISTS (SELECT 1 FROM ledger_seals s WHERE s.transaction_id = t.id)"
            " ORDER BY t.id LIMIT 1"
        ).fetchone()
        if unsealed is not None:
            result.first_break = f"transaction {unsealed[0]} was never sealed"
    for code, currency, kept, moved, kept_count, moved_count in conn.execute(_BALANCES):
        result.balance_breaks.append(
            f"account {code} {currency}: balance rows say {kept} ({kept_count} entries),"
            f" its entries add up to {moved} ({moved_count} entries)"
        )
    return result


def _guard_breaks(conn: Connection) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relname LIKE 'ledger\\_%'"
    ).fetchall()
    enabled = {(table, name): state for table, name, state in rows}
    problems = []
    for table, name in sorted(GUARD_TRIGGERS):
        state = enabled.get((table, name))
        if state is None:
            problems.append(f"trigger {name} on {table} is missing")
        elif state not in ("O", "A"):
            problems.append(f"trigger {name} on {table} is disabled")
    return problems

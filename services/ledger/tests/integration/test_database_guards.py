"""PostgreSQL itself refuses what would make the ledger lie, to the role the service runs as.

Every statement here runs as the ledger's login role, as the service does, which does not own
the schema (``ledger_owner`` does): changing posted rows is refused by privilege (SQLSTATE
42501) before any trigger runs, DDL on the guards is refused because the role owns nothing, and
balances, seals and their queues are written only by the ledger's triggers, which run as the
owner. The triggers still refuse the owner too. None of it comes from the service's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.fees import FeePolicy, parse_fee_policy
from ledger_service.domain.postings import Entry, Posting
from ledger_service.service_layer.posting import PostingInput, post_event
from ledger_service.service_layer.verification import verify
from ledger_service.settings import DEFAULT_FEE_POLICY
from payevents import Envelope

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(ledger_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The service's login role, which owns no table of the ledger."""
    with psycopg.connect(ledger_url, autocommit=True) as connection:
        assert connection.execute("SELECT current_user").fetchone() == ("ledger",)
        assert connection.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'ledger_entries'"
        ).fetchone() == ("ledger_owner",)
        yield connection


@pytest.fixture
def owner(ledger_url: str, owner_on: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(owner_on(ledger_url), autocommit=True) as connection:
        yield connection


@pytest.fixture
def posted(
    ledger_url: str, event: Callable[..., Envelope], payment_facts: Callable[..., dict[str, Any]]
) -> str:
    """A payment posted the way the consumer posts it; its transaction id."""
    with psycopg.connect(ledger_url) as connection, connection.transaction():
        given = PostingInput(LedgerRepository(connection), _fees())
        recorded = post_event(event("payment.succeeded", payment_facts()), given)
    assert recorded is not None
    return recorded.transaction_id


def _fees() -> FeePolicy:
    return parse_fee_policy(DEFAULT_FEE_POLICY)


def _unchecked(kind: str, entries: list[tuple[str, str, int]]) -> Posting:
    """A posting that skips the Python checks, as a buggy service would write it."""
    posting = object.__new__(Posting)
    moved = tuple(Entry(account, Side(side), amount) for account, side, amount in entries)
    for name, value in {
        "kind": kind,
        "business_key": f"test:{id(posting)}",
        "currency": "EUR",
        "entries": moved,
        "merchant_id": None,
        "payment_id": None,
        "refund_id": None,
        "settlement_batch_id": None,
        "reason": None,
        "actor": None,
    }.items():
        object.__setattr__(posting, name, value)
    return posting


def _write(conn: psycopg.Connection[Any], posting: Posting, reference: str) -> None:
    with conn.transaction():
        LedgerRepository(conn).record(
            f"ltx_{reference}", reference, posting, effective_at=_now(conn), recorded_at=None
        )


def _now(conn: psycopg.Connection[Any]) -> Any:
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]


def test_an_unbalanced_transaction_is_refused_at_commit(
    conn: psycopg.Connection[Any], merchant: str
) -> None:
    unbalanced = _unchecked(
        "payment",
        [(accounts.PSP_CLEARING, "debit", 1000), (accounts.escrow(merchant), "credit", 999)],
    )
    with pytest.raises(errors.CheckViolation, match="does not balance"):
        _write(conn, unbalanced, f"unbalanced-{merchant}")
    assert conn.execute(
        "SELECT count(*) FROM ledger_transactions WHERE reference = %s", (f"unbalanced-{merchant}",)
    ).fetchone() == (0,)


def test_a_transaction_of_one_entry_is_refused(conn: psycopg.Connection[Any]) -> None:
    lonely = _unchecked("adjustment", [(accounts.PSP_CLEARING, "debit", 1000)])
    with pytest.raises(errors.CheckViolation):
        _write(conn, lonely, "lonely")


def test_escrow_cannot_go_negative(conn: psycopg.Connection[Any], merchant: str) -> None:
    overdraw = _unchecked(
        "refund",
        [(accounts.escrow(merchant), "debit", 1), (accounts.PSP_CLEARING, "credit", 1)],
    )
    with pytest.raises(errors.CheckViolation, match="ledger_balance_never_negative"):
        _write(conn, overdraw, f"overdraw-{merchant}")


def test_payable_cannot_go_negative(conn: psycopg.Connection[Any], merchant: str) -> None:
    overdraw = _unchecked(
        "payout",
        [(accounts.payable(merchant), "debit", 1), (accounts.BANK_PAYOUTS, "credit", 1)],
    )
    with pytest.raises(errors.CheckViolation, match="ledger_balance_never_negative"):
        _write(conn, overdraw, f"payout-{merchant}")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount + 1 WHERE transaction_id = %(tx)s",
        "DELETE FROM ledger_entries WHERE transaction_id = %(tx)s",
        "UPDATE ledger_transactions SET effective_at = now() WHERE id = %(tx)s",
        "DELETE FROM ledger_transactions WHERE id = %(tx)s",
        "UPDATE ledger_seals SET hash = previous_hash WHERE transaction_id = %(tx)s",
        "DELETE FROM ledger_source_events WHERE transaction_id = %(tx)s",
        "UPDATE ledger_accounts SET never_negative = false",
    ],
)
def test_posted_rows_cannot_be_changed_or_removed(
    conn: psycopg.Connection[Any], posted: str, statement: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute(statement, {"tx": posted})


@pytest.mark.parametrize(
    "table",
    [
        "ledger_entries",
        "ledger_transactions",
        "ledger_seals",
        "ledger_balances",
        "ledger_source_events",
        "ledger_accounts",
        "ledger_pending_balance_changes",
    ],
)
def test_no_ledger_table_can_be_truncated(
    conn: psycopg.Connection[Any], posted: str, table: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
        "ALTER TABLE ledger_transactions DISABLE TRIGGER ALL",
        "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
        "DROP TRIGGER ledger_balances_through_entries ON ledger_balances",
        "ALTER FUNCTION ledger_refuse_change() RENAME TO ledger_refuse_nothing",
    ],
)
def test_the_service_role_cannot_take_a_guard_away(
    conn: psycopg.Connection[Any], statement: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="must be owner"):
        conn.execute(statement)


def test_the_service_role_can_neither_create_objects_nor_bypass_triggers(
    conn: psycopg.Connection[Any],
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema"):
        conn.execute("CREATE TABLE ledger_shadow (id bigint)")
    with pytest.raises(errors.InsufficientPrivilege, match="session_replication_role"):
        conn.execute("SET session_replication_role = replica")


def test_the_triggers_still_refuse_the_schema_owner(
    owner: psycopg.Connection[Any], posted: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
        owner.execute("DELETE FROM ledger_entries WHERE transaction_id = %s", (posted,))
    with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
        owner.execute("TRUNCATE ledger_transactions CASCADE")


def test_balances_change_only_through_entries(conn: psycopg.Connection[Any], posted: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute("UPDATE ledger_balances SET balance = balance + 100")
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute("DELETE FROM ledger_balances")
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute(
            "INSERT INTO ledger_balances (account_id, shard, never_negative)"
            " SELECT id, 99, false FROM ledger_accounts LIMIT 1"
        )
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute("UPDATE ledger_balances SET entry_count = entry_count + 1")


def test_queued_balance_changes_cannot_be_written_directly(
    conn: psycopg.Connection[Any], posted: str
) -> None:
    for statement in (
        "INSERT INTO ledger_pending_balance_changes"
        " (account_id, shard, debits, credits, delta, entries) VALUES (1, 0, 0, 100, 100, 1)",
        "DELETE FROM ledger_pending_balance_changes",
    ):
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
            conn.execute(statement)


def test_the_service_role_posts_through_the_triggers(
    ledger_url: str,
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
    merchant: str,
) -> None:
    """Accounts opened, balances applied and queued, a decision's chain lock and the seals: all
    written by trigger functions running as the owner, on behalf of a role that may not."""
    payment = payment_facts(amount=10_000)
    with psycopg.connect(ledger_url) as connection, connection.transaction():
        given = PostingInput(LedgerRepository(connection), _fees())
        assert post_event(event("payment.succeeded", payment), given) is not None
    with psycopg.connect(ledger_url) as connection, connection.transaction():
        given = PostingInput(LedgerRepository(connection), _fees())
        refund = {**payment, "refund_id": f"ref_{merchant}", "amount": 4_000}
        assert post_event(event("refund.succeeded", refund), given) is not None
    with psycopg.connect(ledger_url) as connection:
        escrow = connection.execute(
            "SELECT b.balance FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id"
            " WHERE a.code = %s AND a.currency = 'EUR'",
            (accounts.escrow(merchant),),
        ).fetchone()
    with psycopg.connect(ledger_url) as connection, connection.transaction():
        assert verify(connection).ok
    assert escrow == (10_000 - 165 - 4_000,)


def test_a_sealed_transaction_takes_no_more_entries(
    conn: psycopg.Connection[Any], posted: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="is sealed"):
        conn.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, currency, side, amount)"
            " SELECT %s, id, currency, 'debit', 1 FROM ledger_accounts"
            " WHERE code = 'psp_clearing' AND currency = 'EUR'",
            (posted,),
        )


def test_a_seal_cannot_be_forged(conn: psycopg.Connection[Any], posted: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table"):
        conn.execute(
            "INSERT INTO ledger_seals (seq, transaction_id, previous_hash, hash)"
            " VALUES (1000000, %s, '\\x00', '\\x00')",
            (posted,),
        )

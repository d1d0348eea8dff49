"""`ledger verify` finds what was changed behind the ledger's back; `ledger rebuild` replays the
events the ledger kept into identical balances and seal hashes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.fees import parse_fee_policy
from ledger_service.domain.postings import Entry
from ledger_service.service_layer.adjustments import Adjust, adjust
from ledger_service.service_layer.posting import PostingInput, post_event
from ledger_service.service_layer.verification import verify
from payevents import Envelope

pytestmark = pytest.mark.integration


def _ledger(url: str, *command: str) -> subprocess.CompletedProcess[str]:
    """The `ledger` command, as an operator runs it."""
    argv = [sys.executable, "-m", "ledger_service.entrypoints.cli", "--database-url", url]
    return subprocess.run([*argv, *command], capture_output=True, text=True, check=False)


def _populate(url: str, merchant: str, event: Callable[..., Envelope]) -> None:
    """A month of one merchant: payments, refunds before and after a payout, an adjustment."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    fees = parse_fee_policy("EUR=150+10")
    payments = [
        {
            "payment_id": f"PAY_{merchant}_{n}",
            "merchant_id": merchant,
            "amount": 5_000 + n,
            "currency": "EUR",
        }
        for n in range(6)
    ]
    envelopes = [
        event("payment.succeeded", facts, at=start + timedelta(hours=n))
        for n, facts in enumerate(payments)
    ]
    envelopes.append(
        event("refund.succeeded", {**payments[0], "refund_id": "ref_1", "amount": 2_000})
    )
    envelopes.append(
        event(
            "settlement.batch_closed",
            {
                "batch_id": f"bat_{merchant}",
                "merchant_id": merchant,
                "currency": "EUR",
                "period_start": "2026-03-01T00:00:00Z",
                "period_end": "2026-03-02T00:00:00Z",
                "item_count": 3,
                "gross_amount": 15_003,
                "refunded_amount": 2_000,
                "fee_amount": 255,
                "net_amount": 12_748,
            },
        )
    )
    envelopes.append(
        event(
            "settlement.batch_paid",
            {
                "batch_id": f"bat_{merchant}",
                "merchant_id": merchant,
                "currency": "EUR",
                "amount": 12_748,
                "payout_id": "po_1",
                "attempt": 1,
            },
        )
    )
    envelopes.append(
        event("refund.succeeded", {**payments[5], "refund_id": "ref_2", "amount": 5_005})
    )
    with psycopg.connect(url) as conn:
        for envelope in envelopes:
            with conn.transaction():
                given = PostingInput(LedgerRepository(conn), fees)
                assert post_event(envelope, given) is not None, envelope.type
        with conn.transaction():
            adjust(
                LedgerRepository(conn),
                Adjust(
                    reference=f"goodwill-{merchant}",
                    currency="EUR",
                    entries=(
                        Entry(accounts.PLATFORM_FEES, Side.DEBIT, 100),
                        Entry(accounts.escrow(merchant), Side.CREDIT, 100),
                    ),
                    reason="fee waived after a complaint",
                    actor="ops_alice",
                    effective_at=start + timedelta(days=2),
                ),
            )


@pytest.fixture
def populated(
    fresh_ledger: Callable[[], str], merchant: str, event: Callable[..., Envelope]
) -> str:
    url = fresh_ledger()
    _populate(url, merchant, event)
    return url


def _verify(url: str) -> Any:
    with psycopg.connect(url) as conn, conn.transaction():
        return verify(conn)


def test_an_untouched_ledger_verifies(populated: str) -> None:
    result = _ledger(populated, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "transactions sealed: 11" in result.stdout
    assert "ledger verified" in result.stdout


def test_verify_names_the_first_transaction_a_superuser_changed(
    populated: str, admin_on: Callable[[str], str]
) -> None:
    with psycopg.connect(admin_on(populated), autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")  # triggers do not fire
        (tx_id,) = admin.execute(
            "SELECT transaction_id FROM ledger_seals WHERE seq = 4"
        ).fetchone() or ("",)
        admin.execute(
            "UPDATE ledger_entries SET amount = amount + 1"
            " WHERE id = (SELECT min(id) FROM ledger_entries WHERE transaction_id = %s)",
            (tx_id,),
        )

    result = _ledger(populated, "verify")
    assert result.returncode == 1
    assert f"first break: seal 4 (transaction {tx_id}" in result.stdout
    assert "changed after it was sealed" in result.stdout
    assert "balance: account psp_clearing EUR" in result.stdout  # its balance rows disagree too


def test_verify_finds_a_backdated_transaction(
    populated: str, admin_on: Callable[[str], str]
) -> None:
    with psycopg.connect(admin_on(populated), autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")
        admin.execute(
            "UPDATE ledger_transactions SET effective_at = effective_at - interval '1 day'"
            " WHERE id = (SELECT transaction_id FROM ledger_seals WHERE seq = 9)"
        )
    found = _verify(populated)
    assert found.first_break is not None and found.first_break.startswith("seal 9 ")


def test_verify_reports_a_guard_the_owner_disabled(
    populated: str, owner_on: Callable[[str], str]
) -> None:
    with psycopg.connect(owner_on(populated), autocommit=True) as owner:
        owner.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
    found = _verify(populated)
    assert found.guard_breaks == [
        "trigger ledger_entries_append_only on ledger_entries is disabled"
    ]
    assert not found.ok


def test_rebuild_into_an_empty_database_gives_identical_balances_and_hashes(
    populated: str, fresh_ledger: Callable[[], str]
) -> None:
    empty = fresh_ledger()
    result = _ledger(populated, "rebuild", "--into", empty)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "replayed 11 events: identical" in result.stdout
    original, rebuilt = _verify(populated), _verify(empty)
    assert rebuilt.ok and rebuilt.transactions == original.transactions == 11
    assert rebuilt.head_hash == original.head_hash


def test_rebuild_refuses_a_database_that_is_not_empty(populated: str) -> None:
    result = _ledger(populated, "rebuild", "--into", populated)
    assert result.returncode == 1
    assert "not empty" in result.stderr

"""Payouts: a failed batch retried pays once; a missing webhook is completed by the janitor.

Nothing is paid that the ledger does not hold: a batch's first payout waits for the ledger's
announcement that it moved the batch's net from escrow to payable (``ledger_moved``), and the
janitor requests it on its first pass after that. A closing the ledger refused (its DLQ; nothing
posted) stays closed and unpaid, and the janitor warns of it once it has waited too long.

The bank is the real simulator's payouts API (``bank`` fixture), reached through the service's
own HTTP client; it decides 0.1 s after a request. No webhook sender runs, so only the janitor's
re-checks bring outcomes in, on a clock the test moves.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from structlog.testing import capture_logs

from payevents import Envelope
from paykit.settings import Secret
from paykit.testing import wait_until
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.domain.configuration import parse_bank_accounts
from settlement_service.domain.errors import IllegalTransition
from settlement_service.domain.payouts import PayoutStatus
from settlement_service.entrypoints.scheduler import run_cutoff
from settlement_service.service_layer import janitor
from settlement_service.service_layer.itemizing import itemize
from settlement_service.service_layer.payouts import pay_out
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _service(url: str, bank: HttpBank, clock: Clock, accounts: str = "") -> SettlementService:
    settings = SettlementSettings(
        database_url=Secret(url),
        kafka_bootstrap_servers="127.0.0.1:1",
        bank_url="http://unused",
        auth_issuer="tests",
        auth_jwks_path=Path("/nonexistent"),
        holding_period_days=0,
        bank_accounts=parse_bank_accounts(accounts),
        payout_stuck_after_seconds=60,
        ledger_wait_warning_minutes=10,
    )
    return bootstrap(settings, bank=bank, clock=clock)


def _ledger_view(events: list[Envelope]) -> list[tuple[str, int]]:
    return [
        (e.type.removeprefix("settlement."), int(e.data.get("attempt", 0)))
        for e in events
        if e.type.startswith("settlement.batch")
    ]


def _decided(bank: HttpBank, batch_id: str, attempts: int) -> bool:
    found = bank.find_payouts(batch_id)
    return len(found) == attempts and all(p.status.final for p in found)


def test_a_missing_webhook_is_completed_by_the_janitor(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
    bank: HttpBank,
    ledger_moved: Callable[..., None],
) -> None:
    url, clock = fresh_database(), Clock()
    service = _service(url, bank, clock, f"{merchant}=acct_silent")
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=clock.now - timedelta(hours=1)))
    try:
        batch_id = _closed_and_requested(service, url, clock, ledger_moved)
        # paid at the bank, whose webhook for this account never comes
        assert wait_until(lambda: _decided(bank, batch_id, 1), timeout=10)

        assert janitor.run_pass(service).checked == 0  # not stuck yet
        clock.now += timedelta(seconds=61)
        assert janitor.run_pass(service).checked == 1
        assert janitor.run_pass(service).checked == 0
    finally:
        service.close()

    with psycopg.connect(url) as conn:
        status = conn.execute(
            "SELECT status FROM settlement_batches WHERE id = %s", (batch_id,)
        ).fetchone()
    assert status == ("paid",)
    assert [p.status for p in bank.find_payouts(batch_id)] == [PayoutStatus.PAID]
    assert _ledger_view(outbox_events(url)) == [
        ("batch_closed", 0),
        ("batch_submitted", 1),
        ("batch_paid", 1),
    ]


def test_a_failed_payout_retried_to_a_corrected_account_pays_once(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
    bank: HttpBank,
    ledger_moved: Callable[..., None],
) -> None:
    """The closed account fails again on a plain retry; the operator's corrected one pays."""
    url, clock = fresh_database(), Clock()
    service = _service(url, bank, clock, f"{merchant}=acct_closed")
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=clock.now - timedelta(hours=1)))
    try:
        batch_id = _closed_and_requested(service, url, clock, ledger_moved)
        _janitor_after_bank_decides(service, bank, batch_id, clock, attempts=1)
        _retry(service, batch_id, clock)
        _janitor_after_bank_decides(service, bank, batch_id, clock, attempts=2)
        _retry(service, batch_id, clock, bank_account="acct_corrected")
        _janitor_after_bank_decides(service, bank, batch_id, clock, attempts=3)
        with pytest.raises(IllegalTransition):
            _retry(service, batch_id, clock, bank_account="acct_corrected")
        clock.now += timedelta(seconds=61)
        assert janitor.run_pass(service).checked == 0
    finally:
        service.close()

    with psycopg.connect(url) as conn:
        attempts = conn.execute(
            "SELECT attempt, bank_account, status, failure_code FROM settlement_payouts"
            " WHERE batch_id = %s ORDER BY attempt",
            (batch_id,),
        ).fetchall()
        (status,) = conn.execute(
            "SELECT status FROM settlement_batches WHERE id = %s", (batch_id,)
        ).fetchone() or ("",)
    assert attempts == [
        (1, "acct_closed", "failed", "account_closed"),
        (2, "acct_closed", "failed", "account_closed"),
        (3, "acct_corrected", "paid", None),
    ]
    assert status == "paid"
    assert _ledger_view(outbox_events(url)) == [
        ("batch_closed", 0),
        ("batch_submitted", 1),
        ("batch_failed", 1),
        ("batch_submitted", 2),
        ("batch_failed", 2),
        ("batch_submitted", 3),
        ("batch_paid", 3),
    ]
    at_the_bank = bank.find_payouts(batch_id)
    assert [(p.attempt, p.status) for p in at_the_bank] == [
        (1, PayoutStatus.FAILED),
        (2, PayoutStatus.FAILED),
        (3, PayoutStatus.PAID),
    ]


def _closed_and_requested(
    service: SettlementService, url: str, clock: Clock, ledger_moved: Callable[..., None]
) -> str:
    """The run closes the batch; once the ledger moved it, the janitor requests its payout."""
    [batch] = run_cutoff(service, clock.now).closed
    ledger_moved(url, batch)
    assert janitor.run_pass(service).checked == 1
    return str(batch["id"])


def _janitor_after_bank_decides(
    service: SettlementService, bank: HttpBank, batch_id: str, clock: Clock, *, attempts: int
) -> None:
    """Once the bank decided every attempt, the janitor's re-check (past the stuck threshold)
    brings the latest outcome in."""
    assert wait_until(lambda: _decided(bank, batch_id, attempts), timeout=10)
    clock.now += timedelta(seconds=61)
    assert janitor.run_pass(service).checked == 1


def _retry(
    service: SettlementService, batch_id: str, clock: Clock, bank_account: str | None = None
) -> None:
    pay_out(
        service.connections(),
        service.the_bank(),
        batch_id,
        service.settings.bank_accounts,
        clock,
        service.payout_stuck_after,
        retry=True,
        bank_account=bank_account,
    )


def _closed_batch(
    url: str, service: SettlementService, posting: Callable[..., Envelope], merchant: str
) -> dict[str, Any]:
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=service.clock() - timedelta(hours=1)))
    [batch] = run_cutoff(service, service.clock()).closed  # its pay_out did nothing
    return batch


def _batch(url: str, batch_id: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status, attempt, ledger_moved_at FROM settlement_batches WHERE id = %s",
            (batch_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def _pay_out(service: SettlementService, batch_id: str) -> object:
    return pay_out(
        service.connections(),
        service.the_bank(),
        batch_id,
        service.settings.bank_accounts,
        service.clock,
        service.payout_stuck_after,
    )


def test_a_batch_the_ledger_has_not_moved_is_paid_by_nobody_until_the_ledger_moves_it(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    bank: HttpBank,
    ledger_moved: Callable[..., None],
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url, clock = fresh_database(), Clock()
    service = _service(url, bank, clock)
    try:
        batch = _closed_batch(url, service, posting, merchant)
        by_pay_out = _pay_out(service, batch["id"])
        by_janitor = janitor.run_pass(service)
        unpaid = _batch(url, batch["id"])
        at_bank_before = bank.find_payouts(batch["id"])

        ledger_moved(url, batch)
        after_the_ledger = janitor.run_pass(service)
        next_pass = janitor.run_pass(service)
        again_by_pay_out = _pay_out(service, batch["id"])
    finally:
        service.close()

    assert (by_pay_out, by_janitor.checked, at_bank_before) == (None, 0, [])
    assert unpaid == ("closed", 0, None)
    assert (after_the_ledger.checked, next_pass.checked, again_by_pay_out) == (1, 0, None)
    status, attempt, moved_at = _batch(url, batch["id"])
    assert (status, attempt) == ("submitted", 1) and moved_at is not None
    assert [(p.attempt, p.amount) for p in bank.find_payouts(batch["id"])] == [
        (1, batch["net_amount"])
    ]
    assert [e.type for e in outbox_events(url) if e.type.startswith("settlement.batch")] == [
        "settlement.batch_closed",
        "settlement.batch_submitted",
    ]


def test_the_janitor_warns_of_a_closed_batch_the_ledger_has_not_moved_for_too_long(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    bank: HttpBank,
    ledger_moved: Callable[..., None],
) -> None:
    url, clock = fresh_database(), Clock()
    service = _service(url, bank, clock)
    try:
        batch = _closed_batch(url, service, posting, merchant)
        with capture_logs() as soon:
            early = janitor.run_pass(service)
        clock.now += timedelta(minutes=11)
        with capture_logs() as late:
            overdue = janitor.run_pass(service)
        ledger_moved(url, batch)
        with capture_logs() as moved:
            paid = janitor.run_pass(service)
    finally:
        service.close()

    def warnings(logs: list[MutableMapping[str, Any]]) -> list[tuple[str, str]]:
        return [
            (e["log_level"], e["batch_id"]) for e in logs if e["event"] == "batch_awaiting_ledger"
        ]

    assert (early.awaiting_ledger, warnings(soon)) == (0, [])
    assert (overdue.awaiting_ledger, warnings(late)) == (1, [("warning", batch["id"])])
    assert (paid.awaiting_ledger, paid.checked, warnings(moved)) == (0, 1, [])

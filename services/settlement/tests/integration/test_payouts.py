"""Payouts: a failed batch retried pays once; a missing webhook is completed by the janitor.

The bank here is an in-memory stand-in of the simulator's payouts contract (outcome by bank
account, idempotent by key), until the simulator's payouts API lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from payevents import Envelope
from paykit.settings import Secret
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.domain.configuration import parse_bank_accounts
from settlement_service.domain.errors import IllegalTransition
from settlement_service.domain.payouts import BankPayout, PayoutRequest, PayoutStatus
from settlement_service.entrypoints.scheduler import run_cutoff
from settlement_service.service_layer import janitor
from settlement_service.service_layer.itemizing import itemize
from settlement_service.service_layer.payouts import pay_out
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration

OUTCOMES = {"acct_closed": "account_closed", "acct_invalid": "invalid_account"}


class Bank:
    """Decides at once, by bank account; keeps one payout per idempotency key."""

    def __init__(self) -> None:
        self.payouts: dict[str, BankPayout] = {}
        self.requests = 0

    def request_payout(self, request: PayoutRequest) -> BankPayout:
        self.requests += 1
        if request.idempotency_key not in self.payouts:
            code = OUTCOMES.get(request.bank_account)
            self.payouts[request.idempotency_key] = BankPayout(
                id=f"po_{len(self.payouts) + 1}_{request.batch_id}",
                batch_id=request.batch_id,
                attempt=request.attempt,
                status=PayoutStatus.PENDING,
                amount=request.amount,
                currency=request.currency,
                failure_code=code,
            )
        return self.payouts[request.idempotency_key]

    def settle_all(self) -> None:
        """The bank decides every pending payout (its webhook is not sent: nobody hears it)."""
        for key, payout in list(self.payouts.items()):
            if payout.status is PayoutStatus.PENDING:
                final = PayoutStatus.FAILED if payout.failure_code else PayoutStatus.PAID
                self.payouts[key] = replace(payout, status=final)

    def get_payout(self, payout_id: str) -> BankPayout:
        return next(p for p in self.payouts.values() if p.id == payout_id)

    def find_payouts(self, batch_id: str) -> list[BankPayout]:
        return [p for p in self.payouts.values() if p.batch_id == batch_id]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _service(url: str, bank: Bank, clock: Clock, accounts: str = "") -> SettlementService:
    settings = SettlementSettings(
        database_url=Secret(url),
        kafka_bootstrap_servers="127.0.0.1:1",
        bank_url="http://unused",
        auth_issuer="tests",
        auth_jwks_path=Path("/nonexistent"),
        holding_period_days=0,
        bank_accounts=parse_bank_accounts(accounts),
        payout_stuck_after_seconds=60,
    )
    return bootstrap(settings, bank=bank, clock=clock)


def _ledger_view(events: list[Envelope]) -> list[tuple[str, int]]:
    return [
        (e.type.removeprefix("settlement."), int(e.data.get("attempt", 0)))
        for e in events
        if e.type.startswith("settlement.batch")
    ]


def test_a_missing_webhook_is_completed_by_the_janitor(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url, bank, clock = fresh_database(), Bank(), Clock()
    service = _service(url, bank, clock)
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=clock.now - timedelta(hours=1)))
    try:
        result = run_cutoff(service, clock.now)
        bank.settle_all()  # paid at the bank; the webhook never arrives

        assert janitor.run_pass(service).checked == 0  # not stuck yet
        clock.now += timedelta(seconds=61)
        assert janitor.run_pass(service).checked == 1
        assert janitor.run_pass(service).checked == 0
    finally:
        service.close()

    with psycopg.connect(url) as conn:
        status = conn.execute(
            "SELECT status FROM settlement_batches WHERE id = %s", (result.closed[0]["id"],)
        ).fetchone()
    assert status == ("paid",)
    assert _ledger_view(outbox_events(url)) == [
        ("batch_closed", 0),
        ("batch_submitted", 1),
        ("batch_paid", 1),
    ]


def test_a_failed_payout_retried_pays_once(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url, bank, clock = fresh_database(), Bank(), Clock()
    closed_account = _service(url, bank, clock, f"{merchant}=acct_closed")
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=clock.now - timedelta(hours=1)))
    fixed_account = _service(url, bank, clock)
    try:
        batch_id = run_cutoff(closed_account, clock.now).closed[0]["id"]
        bank.settle_all()
        clock.now += timedelta(seconds=61)
        janitor.run_pass(closed_account)
        _retry(fixed_account, bank, batch_id, clock)
        bank.settle_all()
        clock.now += timedelta(seconds=61)
        janitor.run_pass(fixed_account)
        with pytest.raises(IllegalTransition):
            _retry(fixed_account, bank, batch_id, clock)
        clock.now += timedelta(seconds=61)
        janitor.run_pass(fixed_account)
    finally:
        closed_account.close()
        fixed_account.close()

    with psycopg.connect(url) as conn:
        attempts = conn.execute(
            "SELECT attempt, status, failure_code FROM settlement_payouts WHERE batch_id = %s"
            " ORDER BY attempt",
            (batch_id,),
        ).fetchall()
        (status,) = conn.execute(
            "SELECT status FROM settlement_batches WHERE id = %s", (batch_id,)
        ).fetchone() or ("",)
    assert attempts == [(1, "failed", "account_closed"), (2, "paid", None)]
    assert status == "paid"
    assert _ledger_view(outbox_events(url)) == [
        ("batch_closed", 0),
        ("batch_submitted", 1),
        ("batch_failed", 1),
        ("batch_submitted", 2),
        ("batch_paid", 2),
    ]
    assert [p.status for p in bank.payouts.values()].count(PayoutStatus.PAID) == 1


def _retry(service: SettlementService, bank: Bank, batch_id: str, clock: Clock) -> None:
    pay_out(
        service.connections(),
        bank,
        batch_id,
        service.settings.bank_accounts,
        clock,
        service.payout_stuck_after,
        retry=True,
    )

"""The payout applier on the real broker, with the real simulator as the bank: a report of a
payout's outcome counts only as far as the bank's own record (``GET /payouts/<id>``) agrees."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope, new_event
from payevents.envelope import new_event_id
from payevents.topics import Topic
from paykit.consumer import Consumer
from paykit.settings import Secret
from paykit.testing import read_topic, running, wait_until
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.domain.configuration import parse_bank_accounts
from settlement_service.domain.payouts import BankPayout, PayoutRequest, PayoutStatus
from settlement_service.entrypoints.consumers import payout_applier
from settlement_service.entrypoints.scheduler import run_cutoff
from settlement_service.service_layer import janitor
from settlement_service.service_layer.itemizing import itemize
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration

APPLIER = {"batch_size": 20, "transaction_per_batch": False, "handler_transactions": True}


@pytest.fixture
def database(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


@pytest.fixture
def service_for(database: str, bank: HttpBank) -> Iterator[Callable[[str], SettlementService]]:
    """The settlement service over the test's database, its merchants' accounts as given."""
    built: list[SettlementService] = []

    def build(accounts: str) -> SettlementService:
        settings = SettlementSettings(
            database_url=Secret(database),
            kafka_bootstrap_servers="127.0.0.1:1",
            bank_url="http://unused",
            auth_issuer="tests",
            auth_jwks_path=Path("/nonexistent"),
            holding_period_days=0,
            bank_accounts=parse_bank_accounts(accounts),
            payout_stuck_after_seconds=600,  # the janitor stays out of these tests
        )
        built.append(bootstrap(settings, bank=bank))
        return built[-1]

    yield build
    for service in built:
        service.close()


@pytest.fixture
def submitted_batch(
    service_for: Callable[[str], SettlementService],
    posting: Callable[..., Envelope],
    merchant: str,
    bank: HttpBank,
    ledger_moved: Callable[..., None],
) -> Callable[[str], tuple[SettlementService, BankPayout]]:
    """A closed batch the ledger moved, whose first payout (requested by the janitor) the bank
    accepted and then decided."""

    def make(bank_account: str) -> tuple[SettlementService, BankPayout]:
        service = service_for(f"{merchant}={bank_account}")
        now = datetime.now(UTC)
        with psycopg.connect(service.settings.database_url.reveal()) as conn, conn.transaction():
            itemize(conn, posting(merchant, effective_at=now - timedelta(hours=1)))
        [batch] = run_cutoff(service, now).closed
        ledger_moved(service.settings.database_url.reveal(), batch)
        assert janitor.run_pass(service).checked == 1
        batch_id = batch["id"]
        assert _status(service, batch_id) == "submitted"
        assert wait_until(lambda: _decided(bank, batch_id) is not None, timeout=10)
        decided = _decided(bank, batch_id)
        assert decided is not None
        return service, decided

    return make


def _decided(bank: HttpBank, batch_id: str) -> BankPayout | None:
    found = bank.find_payouts(batch_id)
    return found[-1] if found and found[-1].status.final else None


def _report(payout: BankPayout, status: str, **changes: Any) -> Envelope:
    """``psp.payout_status_received`` as the webhook service queues it, saying ``status``."""
    failed = status == "failed"
    data: dict[str, Any] = {
        "payout_id": payout.id,
        "batch_id": payout.batch_id,
        "attempt": payout.attempt,
        "merchant_id": "MER_reported",
        "status": status,
        "amount": payout.amount,
        "currency": payout.currency,
        "failure_code": "account_closed" if failed else None,
        "failure_message": "The beneficiary's bank account is closed." if failed else None,
        "occurred_at": datetime.now(UTC).isoformat(),
        **changes,
    }
    return new_event("psp.payout_status_received", data, source="webhook", subject=data["batch_id"])


def _status(service: SettlementService, batch_id: str) -> str:
    with service.connections().connection() as conn:
        row = conn.execute(
            "SELECT status FROM settlement_batches WHERE id = %s", (batch_id,)
        ).fetchone()
    return str(row[0]) if row else ""


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _batch_events(outbox: list[Envelope]) -> list[str]:
    return [e.type for e in outbox if e.type.startswith("settlement.batch")]


def test_a_paid_report_delivered_twice_and_sent_again_pays_the_batch_once(
    database: str,
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    submitted_batch: Callable[[str], tuple[SettlementService, BankPayout]],
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    service, payout = submitted_batch("acct_ok")
    report = _report(payout, "paid")
    sent_again = replace(report, id=new_event_id())  # the bank's webhook once more, a new event

    with running(consumer_on(database, topic, payout_applier(service), **APPLIER)):
        for envelope in (report, report, sent_again):
            publish(topic, envelope)
        assert wait_until(lambda: _count(database, "SELECT count(*) FROM inbox") == 2, timeout=30)

    assert _status(service, payout.batch_id) == "paid"
    assert _batch_events(outbox_events(database)) == [
        "settlement.batch_closed",
        "settlement.batch_submitted",
        "settlement.batch_paid",
    ]
    with psycopg.connect(database) as conn:
        attempt = conn.execute(
            "SELECT status, bank_payout_id FROM settlement_payouts WHERE batch_id = %s",
            (payout.batch_id,),
        ).fetchall()
    assert attempt == [("paid", payout.id)]


def test_a_report_the_banks_record_contradicts_applies_the_banks_record(
    database: str,
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    submitted_batch: Callable[[str], tuple[SettlementService, BankPayout]],
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    service, payout = submitted_batch("acct_closed")
    assert payout.status is PayoutStatus.FAILED

    with running(consumer_on(database, topic, payout_applier(service), **APPLIER)):
        publish(topic, _report(payout, "paid"))  # says paid; the bank failed it
        assert wait_until(lambda: _status(service, payout.batch_id) == "failed", timeout=30)

    events = outbox_events(database)
    assert _batch_events(events)[-1] == "settlement.batch_failed"
    assert "settlement.batch_paid" not in _batch_events(events)
    assert events[-1].data["failure_code"] == "account_closed"


def test_a_report_of_an_attempt_already_decided_changes_nothing(
    database: str,
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    submitted_batch: Callable[[str], tuple[SettlementService, BankPayout]],
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    service, payout = submitted_batch("acct_closed")

    with running(consumer_on(database, topic, payout_applier(service), **APPLIER)):
        publish(topic, _report(payout, "failed"))
        assert wait_until(lambda: _status(service, payout.batch_id) == "failed", timeout=30)
        before = outbox_events(database)
        publish(topic, _report(payout, "paid"))  # a late, contradicting report of attempt 1
        assert wait_until(lambda: _count(database, "SELECT count(*) FROM inbox") == 2, timeout=30)

    assert _status(service, payout.batch_id) == "failed"
    assert outbox_events(database) == before


def test_reports_of_payouts_this_platform_never_made_are_dead_lettered_with_the_reason(
    cluster: ClusterEnv,
    database: str,
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    service_for: Callable[[str], SettlementService],
    bank: HttpBank,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    service = service_for("")
    stranger = bank.request_payout(  # made at the bank by someone else: no such batch here
        PayoutRequest(f"stb_{uuid.uuid4().hex[:12]}", 1, "MER_elsewhere", 500, "EUR", "acct_ok")
    )
    unknown_to_the_bank = replace(stranger, id=f"po_{uuid.uuid4().hex}")
    dlq = topic.dlq_topic(topic.consumers[0].name)

    with running(consumer_on(database, topic, payout_applier(service), **APPLIER)):
        publish(topic, _report(unknown_to_the_bank, "paid"))
        publish(topic, _report(stranger, "paid"))
        assert wait_until(lambda: len(read_topic(cluster.bootstrap_servers, dlq)) == 2, timeout=30)

    letters = [
        {name: value.decode() for name, value in letter.headers}
        for letter in read_topic(cluster.bootstrap_servers, dlq)
    ]
    assert [headers["x-dlq-reason"] for headers in letters] == ["invalid", "invalid"]
    messages = [headers["x-error-message"] for headers in letters]
    assert any("the bank has no such payout" in m and "payout_not_found" in m for m in messages)
    assert any("not a payout of this platform" in m for m in messages)
    assert outbox_events(database) == []

"""Reconciliation of a day against the real ledger, PSP simulator and bank, all in-process.

Each test builds one clean run: charges and a refund at the PSP, their postings in a ledger of
its own, the items the itemizer makes of the ledger's announcements, a batch closed (posted by
the ledger, escrow to payable) and paid out at the bank. Then it tampers with one side and asks
``POST /settlements/reconciliation``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from flask import Flask

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain.fees import parse_fee_policy
from ledger_service.entrypoints.app import create_app as create_ledger_app
from ledger_service.service_layer.posting import PostingInput, post_event
from ledger_service.settings import DEFAULT_FEE_POLICY, LedgerSettings
from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from payevents import decode, new_event
from paykit.auth.audiences import ADMIN_AUDIENCE
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys
from paykit.settings import Secret
from paykit.testing import scratch_database
from psp_simulator.bootstrap import connect_redis
from psp_simulator.domain.outcomes import Timings
from psp_simulator.entrypoints.app import create_app as create_psp_app
from psp_simulator.settings import SimulatorSettings
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.adapters.bank_statement_http import HttpBankStatement
from settlement_service.adapters.ledger_http import HttpLedger
from settlement_service.adapters.psp_reports_http import HttpPspReports
from settlement_service.bootstrap import bootstrap
from settlement_service.domain.configuration import MinimumPayouts
from settlement_service.entrypoints.app import create_app
from settlement_service.reconciliation_bootstrap import ReconciliationSources
from settlement_service.service_layer.batching import RunResult, close_batches
from settlement_service.service_layer.itemizing import itemize
from settlement_service.service_layer.payouts import apply_bank_record, pay_out
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration
ISSUER = "settlement-reconciliation-tests"
INSTANT = Timings(
    outcome_delay=0, response_delay=0, slow_webhook_delay=0, late_webhook_delay=0, payout_delay=0
)


@dataclass
class World:
    settlement_url: str
    ledger_url: str
    psp_redis: redis.Redis
    psp_prefix: str
    payments: list[dict[str, Any]]
    refund: dict[str, Any]
    batch_id: str
    bank_payout_id: str
    reconcile: Callable[[datetime, datetime], httpx.Response]

    def today(self) -> tuple[datetime, datetime]:
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)

    def report(self) -> dict[str, Any]:
        response = self.reconcile(*self.today())
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def settlement(self, statement: str, *params: Any) -> None:
        with psycopg.connect(self.settlement_url) as conn:
            conn.execute(statement, params)


def _not_matched(check: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(line["result"], line["ids"]) for line in check["lines"] if line["result"] != "matched"]


@pytest.fixture
def signing_key() -> SigningKey:
    return generate_signing_key("reconciliation-test-1")


@pytest.fixture
def jwks(signing_key: SigningKey, tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_document(public_keys([signing_key]))))
    return path


def _over(app: Flask) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://in-process")


def _post(ledger_url: str, event_type: str, facts: dict[str, Any]) -> str:
    envelope = new_event(event_type, facts, source="tests", subject=facts["payment_id"])
    with psycopg.connect(ledger_url) as conn, conn.transaction():
        fees = parse_fee_policy(DEFAULT_FEE_POLICY)
        recorded = post_event(envelope, PostingInput(LedgerRepository(conn), fees))
    assert recorded is not None
    return recorded.transaction_id


def _captured(
    psp: httpx.Client, ledger_url: str, payment_id: str, merchant: str, amount: int
) -> dict[str, Any]:
    """A payment charged at the PSP and posted by the ledger, as the platform would."""
    body = {"amount": amount, "currency": "EUR", "payment_method": "pm_card_visa"}
    charge = psp.post(
        "/charges", json={**body, "reference": payment_id}, headers={"Idempotency-Key": payment_id}
    )
    assert charge.status_code == 201, charge.text
    facts = {"payment_id": payment_id, "merchant_id": merchant, "amount": amount, "currency": "EUR"}
    posted = _post(ledger_url, "payment.succeeded", facts)
    return {**facts, "charge_id": charge.json()["id"], "ledger_transaction_id": posted}


def _refunded(
    psp: httpx.Client, ledger_url: str, payment: dict[str, Any], refund_id: str, amount: int
) -> dict[str, Any]:
    body = {"charge_id": payment["charge_id"], "amount": amount, "reference": refund_id}
    refund = psp.post("/refunds", json=body, headers={"Idempotency-Key": refund_id})
    assert refund.status_code == 201, refund.text
    facts = {
        "payment_id": payment["payment_id"],
        "merchant_id": payment["merchant_id"],
        "refund_id": refund_id,
        "amount": amount,
        "currency": "EUR",
    }
    return {**facts, "ledger_transaction_id": _post(ledger_url, "refund.succeeded", facts)}


def _run_now(conn: psycopg.Connection[Any]) -> RunResult:
    """A cutoff run now, with no holding period: everything itemised so far is eligible."""
    return close_batches(
        conn,
        datetime.now(UTC),
        now=datetime.now(UTC),
        holding_period=timedelta(0),
        minimums=MinimumPayouts(),
        triggered_by="admin",
    )


def _itemize_ledger_announcements(ledger_url: str, settlement_url: str) -> None:
    """What the itemizer would consume from ledger-events, taken from the ledger's outbox."""
    with psycopg.connect(ledger_url) as conn:
        rows = conn.execute("SELECT value FROM outbox ORDER BY id").fetchall()
    with psycopg.connect(settlement_url) as conn, conn.transaction():
        for (value,) in rows:
            itemize(conn, decode(bytes(value)))


def _ledger_posts_the_closings(settlement_url: str, ledger_url: str) -> None:
    """What the ledger's settlement poster does with settlement's ``batch_closed`` events:
    escrow to payable, announced on ledger-events."""
    with psycopg.connect(settlement_url) as conn:
        rows = conn.execute("SELECT value FROM outbox ORDER BY id").fetchall()
    closings = [
        e for (value,) in rows if (e := decode(bytes(value))).type == "settlement.batch_closed"
    ]
    assert closings, "no batch closed"
    with psycopg.connect(ledger_url) as conn, conn.transaction():
        fees = parse_fee_policy(DEFAULT_FEE_POLICY)
        for closing in closings:
            assert post_event(closing, PostingInput(LedgerRepository(conn), fees)) is not None


@pytest.fixture
def world(cluster: ClusterEnv, signing_key: SigningKey, jwks: Path, unique: str) -> Iterator[World]:
    merchant = f"MER_{unique}"
    with ExitStack() as stack:
        settlement_url = stack.enter_context(
            scratch_database(cluster.admin_url, migration_sources("settlement") or {}, "recon_s")
        )
        ledger_url = stack.enter_context(
            scratch_database(cluster.admin_url, migration_sources("ledger") or {}, "recon_l")
        )
        psp_redis = connect_redis(cluster.redis_url)
        stack.callback(psp_redis.close)
        prefix = f"psp-recon-{unique}"
        psp_app = create_psp_app(
            SimulatorSettings(
                redis_url=Secret(cluster.redis_url), key_prefix=prefix, timings=INSTANT
            ),
            redis_client=psp_redis,
        )
        ledger_app = create_ledger_app(
            LedgerSettings(
                database_url=Secret(ledger_url),
                kafka_bootstrap_servers="unused:9092",
                auth_issuer=ISSUER,
                auth_jwks_path=jwks,
                json_logs=False,
            )
        )
        stack.callback(ledger_app.extensions["ledger_service"].close)
        psp = stack.enter_context(_over(psp_app))
        ledger_client = stack.enter_context(_over(ledger_app))

        # The PSP captures three payments and refunds part of one; the ledger posts each.
        payments = [
            _captured(psp, ledger_url, f"PAY_{unique}_{n}", merchant, amount)
            for n, amount in enumerate((10_000, 25_000, 4_200))
        ]
        refund = _refunded(psp, ledger_url, payments[1], f"RFD_{unique}", 5_000)
        _itemize_ledger_announcements(ledger_url, settlement_url)

        # Settlement closes the merchant's batch and the bank pays it.
        config = SettlementSettings(
            database_url=Secret(settlement_url),
            kafka_bootstrap_servers="unused:9092",
            bank_url="http://in-process",
            auth_issuer=ISSUER,
            auth_jwks_path=jwks,
            holding_period_days=0,
            json_logs=False,
        )
        bank = HttpBank("http://in-process", client=_over(psp_app))
        service = bootstrap(config, bank=bank)
        stack.callback(service.close)
        with psycopg.connect(settlement_url) as conn:
            run = _run_now(conn)
        [batch] = run.closed
        _ledger_posts_the_closings(settlement_url, ledger_url)
        _itemize_ledger_announcements(ledger_url, settlement_url)  # the closing's move, too
        payout = pay_out(
            service.connections(),
            bank,
            batch["id"],
            config.bank_accounts,
            service.clock,
            timedelta(minutes=5),
        )
        assert payout is not None
        apply_bank_record(
            service.connections(), bank.get_payout(payout.id), service.clock, timedelta(minutes=5)
        )

        sources = ReconciliationSources(
            ledger=lambda token: HttpLedger("http://in-process", token, client=ledger_client),
            psp=HttpPspReports("http://in-process", client=psp),
            bank=HttpBankStatement("http://in-process", client=_over(psp_app)),
        )
        app = create_app(config, service=service, reconciliation_sources=sources)
        token = signing_key.issue(
            issuer=ISSUER,
            audience=ADMIN_AUDIENCE,
            subject="ops_recon",
            ttl=timedelta(minutes=5),
            scopes=("settlement:admin", "ledger:admin"),
        )
        client = stack.enter_context(_over(app))

        def reconcile(start: datetime, end: datetime) -> httpx.Response:
            return client.post(
                "/settlements/reconciliation",
                json={"from": start.isoformat(), "to": end.isoformat()},
                headers={"Authorization": f"Bearer {token}"},
            )

        yield World(
            settlement_url,
            ledger_url,
            psp_redis,
            prefix,
            payments,
            refund,
            batch["id"],
            payout.id,
            reconcile,
        )


def test_a_clean_run_is_matched_three_ways(world: World) -> None:
    report = world.report()

    assert report["status"] == "matched", json.dumps(report, indent=1)
    checks = report["checks"]
    assert {name: check["counts"]["matched"] for name, check in checks.items()} == {
        "settlement_vs_ledger": 4,
        "platform_vs_psp": 4,
        "batches_vs_bank": 1,
    }
    assert checks["platform_vs_psp"]["totals"]["psp"]["EUR"] == {"amount": 39_200 + 5_000}
    ledger = checks["settlement_vs_ledger"]["totals"]
    assert ledger["settlement"] == ledger["ledger"]
    [payout] = checks["batches_vs_bank"]["lines"]
    assert payout["ids"]["bank_payout_id"] == world.bank_payout_id
    assert payout["settlement"]["status"] == payout["bank"]["status"] == "paid"


def test_a_deleted_settlement_item_is_missing_against_the_ledger_and_the_psp(
    world: World,
) -> None:
    payment_id = world.payments[0]["payment_id"]
    world.settlement(
        "DELETE FROM settlement_batch_items WHERE item_id IN"
        " (SELECT id FROM settlement_items WHERE payment_id = %s AND kind = 'payment')",
        payment_id,
    )
    world.settlement(
        "DELETE FROM settlement_items WHERE payment_id = %s AND kind = 'payment'", payment_id
    )

    report = world.report()

    assert report["status"] == "discrepancies"
    [(result, ids)] = _not_matched(report["checks"]["settlement_vs_ledger"])
    assert (result, ids["payment_id"], ids["kind"]) == (
        "missing_in_settlement",
        payment_id,
        "payment",
    )
    assert ids["ledger_transaction_id"] == world.payments[0]["ledger_transaction_id"]
    [(result, ids)] = _not_matched(report["checks"]["platform_vs_psp"])
    assert (result, ids["record_type"], ids["payment_id"]) == (
        "missing_in_platform",
        "capture",
        payment_id,
    )
    assert report["checks"]["batches_vs_bank"]["status"] == "matched"


def test_an_altered_psp_report_line_is_an_amount_mismatch_of_that_payment(world: World) -> None:
    altered = world.payments[2]
    world.psp_redis.hset(f"{world.psp_prefix}:charge:{altered['charge_id']}", "amount", "4201")

    report = world.report()

    assert report["status"] == "discrepancies"
    check = report["checks"]["platform_vs_psp"]
    [line] = [line for line in check["lines"] if line["result"] != "matched"]
    assert line["result"] == "amount_mismatch"
    assert line["ids"]["payment_id"] == altered["payment_id"]
    assert (line["platform"]["amount"], line["psp"]["amount"]) == (4_200, 4_201)
    assert report["checks"]["settlement_vs_ledger"]["status"] == "matched"


def test_a_dropped_payout_is_missing_in_settlement_with_the_banks_payout_id(world: World) -> None:
    world.settlement("DELETE FROM settlement_payouts WHERE batch_id = %s", world.batch_id)

    report = world.report()

    assert report["status"] == "discrepancies"
    [(result, ids)] = _not_matched(report["checks"]["batches_vs_bank"])
    assert result == "missing_in_settlement"
    assert ids == {"batch_id": world.batch_id, "attempt": 1, "bank_payout_id": world.bank_payout_id}


def test_a_payout_the_bank_lost_is_missing_in_bank(world: World) -> None:
    world.psp_redis.delete(f"{world.psp_prefix}:payout:{world.bank_payout_id}")

    report = world.report()

    [(result, ids)] = _not_matched(report["checks"]["batches_vs_bank"])
    assert (result, ids["batch_id"], ids["bank_payout_id"]) == (
        "missing_in_bank",
        world.batch_id,
        world.bank_payout_id,
    )


def test_a_bad_period_is_a_422_problem(world: World) -> None:
    start, _ = world.today()
    backwards = world.reconcile(start, start - timedelta(days=1))
    too_long = world.reconcile(start, start + timedelta(days=32))

    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_period")
    assert (too_long.status_code, too_long.json()["code"]) == (422, "invalid_period")
    assert backwards.headers["content-type"].startswith("application/problem+json")


def _settle(settlement_url: str, ledger_url: str) -> list[dict[str, Any]]:
    """Itemise what the ledger announced, run a cutoff now, and post its closings to the ledger."""
    _itemize_ledger_announcements(ledger_url, settlement_url)
    with psycopg.connect(settlement_url) as conn:
        already = {row[0] for row in conn.execute("SELECT id FROM outbox").fetchall()}
        run = _run_now(conn)
        rows = conn.execute("SELECT id, value FROM outbox ORDER BY id").fetchall()
    fees = parse_fee_policy(DEFAULT_FEE_POLICY)
    for row_id, value in rows:
        envelope = decode(bytes(value))
        if row_id not in already and envelope.type == "settlement.batch_closed":
            with psycopg.connect(ledger_url) as conn, conn.transaction():
                post_event(envelope, PostingInput(LedgerRepository(conn), fees))
    return run.closed


def _escrow_and_payable(ledger_url: str, merchant: str) -> tuple[int, int]:
    fees = parse_fee_policy(DEFAULT_FEE_POLICY)
    with psycopg.connect(ledger_url) as conn:
        given = PostingInput(LedgerRepository(conn), fees)
        return (
            given.balance(f"merchant:{merchant}:escrow", "EUR"),
            given.balance(f"merchant:{merchant}:payable", "EUR"),
        )


def test_a_reversal_of_a_settled_payment_makes_the_next_batch_smaller_and_the_ledger_posts_it(
    cluster: ClusterEnv, unique: str
) -> None:
    merchant = f"MER_{unique}"
    first = {"payment_id": f"PAY_{unique}_1", "merchant_id": merchant, "amount": 10_000}
    second = {"payment_id": f"PAY_{unique}_2", "merchant_id": merchant, "amount": 30_000}
    with ExitStack() as stack:
        settlement_url = stack.enter_context(
            scratch_database(cluster.admin_url, migration_sources("settlement") or {}, "rev_s")
        )
        ledger_url = stack.enter_context(
            scratch_database(cluster.admin_url, migration_sources("ledger") or {}, "rev_l")
        )
        _post(ledger_url, "payment.succeeded", {**first, "currency": "EUR"})
        [settled] = _settle(settlement_url, ledger_url)
        _post(ledger_url, "payment.succeeded", {**second, "currency": "EUR"})
        _post(
            ledger_url,
            "payment.failed",
            {
                **first,
                "currency": "EUR",
                "failure_code": "card_declined",
                "corrected_from": "succeeded",
            },
        )

        [next_batch] = _settle(settlement_url, ledger_url)

        fee_of_first, fee_of_second = 165, 445  # the default EUR policy: 1.40 % + 0.25
        assert settled["net_amount"] == 10_000 - fee_of_first
        assert next_batch["net_amount"] == (30_000 - fee_of_second) - (10_000 - fee_of_first)
        assert (next_batch["reversed_amount"], next_batch["fee_returned_amount"]) == (
            10_000,
            fee_of_first,
        )
        # The ledger posted both closings: escrow emptied, payable holds both nets.
        assert _escrow_and_payable(ledger_url, merchant) == (
            0,
            settled["net_amount"] + next_batch["net_amount"],
        )

"""The settlement API: merchants read their own batches; operators run cutoffs and retry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from payevents import Envelope
from paykit.auth.audiences import ADMIN_AUDIENCE, PAYMENTS_API_AUDIENCE
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys
from paykit.settings import Secret
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.entrypoints.app import create_app
from settlement_service.service_layer import janitor
from settlement_service.service_layer.itemizing import itemize
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration
ISSUER = "tests"


@pytest.fixture
def database(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


@pytest.fixture
def app(database: str, tmp_path: Path, bank: HttpBank) -> Iterator[Flask]:
    key = generate_signing_key("settlement-test-1")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_document(public_keys([key]))))
    config = SettlementSettings(
        database_url=Secret(database),
        kafka_bootstrap_servers="unused:9092",
        bank_url="http://unused",
        auth_issuer=ISSUER,
        auth_jwks_path=jwks,
        holding_period_days=0,
        json_logs=False,
    )
    application = create_app(config, service=bootstrap(config, bank=bank))
    application.extensions["signing_key"] = key
    yield application
    application.extensions["settlement_service"].close()


@pytest.fixture
def as_user(app: Flask) -> Callable[..., FlaskClient]:
    def client(subject: str, *, admin: bool = False) -> FlaskClient:
        key: SigningKey = app.extensions["signing_key"]
        token = key.issue(
            issuer=ISSUER,
            audience=ADMIN_AUDIENCE if admin else PAYMENTS_API_AUDIENCE,
            subject=subject,
            ttl=timedelta(minutes=5),
            scopes=("settlement:admin",) if admin else ("payments:read",),
        )
        made = app.test_client()
        made.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return made

    return client


def _items(database: str, *postings: Envelope) -> None:
    with psycopg.connect(database) as conn, conn.transaction():
        for envelope in postings:
            itemize(conn, envelope)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_a_run_closes_batches_the_merchant_then_reads_with_their_items(
    as_user: Callable[..., FlaskClient],
    database: str,
    posting: Callable[..., Envelope],
    merchant: str,
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    _items(
        database,
        posting(merchant, effective_at=past),
        posting(merchant, currency="USD", effective_at=past),
    )
    cutoff = _iso(datetime.now(UTC) - timedelta(minutes=1))

    run = as_user("operator", admin=True).post("/settlements/run", json={"cutoff": cutoff})
    again = as_user("operator", admin=True).post("/settlements/run", json={"cutoff": cutoff})

    assert run.status_code == 200
    assert again.get_json()["replayed"] is True
    assert [b["id"] for b in again.get_json()["closed"]] == [
        b["id"] for b in run.get_json()["closed"]
    ]
    client = as_user(merchant)
    first = client.get("/settlements/batches", query_string={"limit": 1}).get_json()
    second = client.get(
        "/settlements/batches", query_string={"limit": 1, "cursor": first["next_cursor"]}
    ).get_json()
    assert len(first["data"]) == len(second["data"]) == 1
    assert second["next_cursor"] is None
    eur = client.get("/settlements/batches", query_string={"currency": "EUR"}).get_json()
    (batch,) = eur["data"]
    detail = client.get(f"/settlements/batches/{batch['id']}").get_json()
    assert [i["net_amount"] for i in detail["items"]] == [10_000 - 165]
    assert detail["status"] == "closed"


def test_bad_requests_answer_problems(
    as_user: Callable[..., FlaskClient],
    database: str,
    posting: Callable[..., Envelope],
    merchant: str,
) -> None:
    _items(database, posting(merchant, effective_at=datetime.now(UTC) - timedelta(hours=2)))
    operator = as_user("operator", admin=True)
    future = operator.post(
        "/settlements/run", json={"cutoff": _iso(datetime.now(UTC) + timedelta(hours=1))}
    )
    closed = operator.post(
        "/settlements/run", json={"cutoff": _iso(datetime.now(UTC) - timedelta(minutes=1))}
    ).get_json()["closed"][0]

    unknown = as_user(merchant).get("/settlements/batches/stb_nope")
    foreign = as_user("MER_someone_else").get(f"/settlements/batches/{closed['id']}")
    not_failed = operator.post(f"/settlements/batches/{closed['id']}/retry")
    bad_account = operator.post(
        f"/settlements/batches/{closed['id']}/retry", json={"bank_account": "not an account"}
    )

    assert (future.status_code, future.get_json()["code"]) == (422, "cutoff_in_future")
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "batch_not_found")
    assert foreign.status_code == 404
    assert (not_failed.status_code, not_failed.get_json()["code"]) == (409, "illegal_transition")
    assert not_failed.content_type == "application/problem+json"
    assert (bad_account.status_code, bad_account.get_json()["code"]) == (422, "validation_failed")
    assert "bank_account" in bad_account.get_json()["errors"]


def test_a_run_pays_out_nothing_the_ledger_has_not_moved_then_the_janitor_pays_it_once(
    app: Flask,
    as_user: Callable[..., FlaskClient],
    database: str,
    posting: Callable[..., Envelope],
    merchant: str,
    bank: HttpBank,
    ledger_moved: Callable[..., None],
) -> None:
    _items(database, posting(merchant, effective_at=datetime.now(UTC) - timedelta(hours=2)))
    cutoff = _iso(datetime.now(UTC) - timedelta(minutes=1))
    service: SettlementService = app.extensions["settlement_service"]

    [closed] = (
        as_user("operator", admin=True)
        .post("/settlements/run", json={"cutoff": cutoff})
        .get_json()["closed"]
    )
    waiting = as_user(merchant).get(f"/settlements/batches/{closed['id']}").get_json()
    nothing_yet = janitor.run_pass(service)
    at_bank_before = bank.find_payouts(closed["id"])
    ledger_moved(database, closed)
    requested = janitor.run_pass(service)
    again = janitor.run_pass(service)

    assert (waiting["status"], waiting["attempt"], waiting["ledger_moved_at"]) == (
        "closed",
        0,
        None,
    )
    assert waiting["payouts"] == []
    assert (nothing_yet.checked, nothing_yet.awaiting_ledger, at_bank_before) == (0, 0, [])
    assert (requested.checked, again.checked) == (1, 0)
    moved = as_user(merchant).get(f"/settlements/batches/{closed['id']}").get_json()
    assert moved["status"] == "submitted" and moved["ledger_moved_at"] is not None
    assert [(p.attempt, p.amount) for p in bank.find_payouts(closed["id"])] == [
        (1, closed["net_amount"])
    ]

"""A batch's report, JSON and CSV: every item, and totals that are the batch's own."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from payevents import Envelope
from paykit.auth.audiences import PAYMENTS_API_AUDIENCE
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import generate_signing_key, public_keys
from paykit.settings import Secret
from settlement_service.bootstrap import bootstrap
from settlement_service.domain.configuration import MinimumPayouts
from settlement_service.entrypoints.app import create_app
from settlement_service.service_layer.batching import close_batches
from settlement_service.service_layer.itemizing import itemize
from settlement_service.settings import SettlementSettings

pytestmark = pytest.mark.integration
ISSUER = "settlement-report-tests"
NOW = datetime.now(UTC)
TOTALS = (
    "item_count",
    "gross_amount",
    "refunded_amount",
    "fee_amount",
    "reversed_amount",
    "fee_returned_amount",
    "net_amount",
)


@pytest.fixture
def reader(
    fresh_database: Callable[[], str], tmp_path: Path
) -> Iterator[Callable[[str], FlaskClient]]:
    """A client of the settlement app with the report routes, as the given merchant."""
    key = generate_signing_key("report-test-1")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_document(public_keys([key]))))
    config = SettlementSettings(
        database_url=Secret(fresh_database()),
        kafka_bootstrap_servers="unused:9092",
        bank_url="http://unused",
        auth_issuer=ISSUER,
        auth_jwks_path=jwks,
        json_logs=False,
    )
    service = bootstrap(config)
    app: Flask = create_app(config, service=service)
    app.extensions["database_url"] = config.database_url.reveal()

    def client(merchant_id: str) -> FlaskClient:
        token = key.issue(
            issuer=ISSUER,
            audience=PAYMENTS_API_AUDIENCE,
            subject=merchant_id,
            ttl=timedelta(minutes=5),
            scopes=("payments:read",),
        )
        made = app.test_client()
        made.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return made

    yield client
    service.close()


def _closed_batch(database_url: str, *postings: Envelope) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            for envelope in postings:
                itemize(conn, envelope)
        run = close_batches(
            conn,
            NOW,
            now=NOW,
            holding_period=timedelta(days=2),
            minimums=MinimumPayouts(),
            triggered_by="admin",
        )
    [batch] = run.closed
    return batch


@pytest.fixture
def batch(
    reader: Callable[[str], FlaskClient], posting: Callable[..., Envelope], merchant: str
) -> dict[str, Any]:
    old = NOW - timedelta(days=3)
    database_url = reader(merchant).application.extensions["database_url"]
    return _closed_batch(
        database_url,
        posting(merchant, "payment", 10_000, 165, effective_at=old),
        posting(merchant, "payment", 7_500, 130, effective_at=old + timedelta(hours=1)),
        posting(merchant, "refund", 2_000, effective_at=old + timedelta(hours=2)),
    )


def test_the_json_report_lists_every_item_and_totals_equal_to_the_batchs(
    reader: Callable[[str], FlaskClient], batch: dict[str, Any], merchant: str
) -> None:
    response = reader(merchant).get(f"/settlements/batches/{batch['id']}/report")

    assert response.status_code == 200
    report = response.get_json()
    assert report["totals"] == {name: batch[name] for name in TOTALS}
    assert report["totals"] == {
        "item_count": 3,
        "gross_amount": 17_500,
        "refunded_amount": 2_000,
        "fee_amount": 295,
        "reversed_amount": 0,
        "fee_returned_amount": 0,
        "net_amount": 17_500 - 2_000 - 295,
    }
    assert [
        (i["kind"], i["gross_amount"], i["fee_amount"], i["net_amount"]) for i in report["items"]
    ] == [
        ("payment", 10_000, 165, 9_835),
        ("payment", 7_500, 130, 7_370),
        ("refund", 2_000, 0, -2_000),
    ]
    refund = report["items"][2]
    assert refund["refund_id"].startswith("REF_") and refund["payment_id"].startswith("PAY_")
    assert all(
        i["item_id"].startswith("sit_") and i["ledger_transaction_id"] for i in report["items"]
    )
    assert report["batch"]["id"] == batch["id"] and report["batch"]["status"] == "closed"


def test_the_csv_report_has_a_header_a_row_per_item_and_the_totals(
    reader: Callable[[str], FlaskClient], batch: dict[str, Any], merchant: str
) -> None:
    client = reader(merchant)
    response = client.get(f"/settlements/batches/{batch['id']}/report.csv")
    as_json = client.get(f"/settlements/batches/{batch['id']}/report").get_json()

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    *items, total = rows
    assert [r["item_id"] for r in items] == [i["item_id"] for i in as_json["items"]]
    assert [int(r["net_amount"]) for r in items] == [i["net_amount"] for i in as_json["items"]]
    assert items[2]["refund_id"] == as_json["items"][2]["refund_id"]
    assert total["item_id"] == "total"
    assert {name: int(total[name]) for name in TOTALS} == {name: batch[name] for name in TOTALS}


def test_a_reversal_shows_as_its_own_row_and_the_totals_still_equal_the_batchs(
    reader: Callable[[str], FlaskClient], posting: Callable[..., Envelope], merchant: str
) -> None:
    old = NOW - timedelta(days=3)
    client = reader(merchant)
    overturned = posting(merchant, "payment", 10_000, 165, effective_at=old)
    batch = _closed_batch(
        client.application.extensions["database_url"],
        posting(merchant, "payment", 30_000, 445, effective_at=old),
        overturned,
        posting(
            merchant,
            "payment_reversal",
            10_000,
            165,
            payment_id=overturned.data["payment_id"],
            effective_at=old + timedelta(hours=1),
        ),
    )

    report = client.get(f"/settlements/batches/{batch['id']}/report").get_json()
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/settlements/batches/{batch['id']}/report.csv").get_data(as_text=True)
            )
        )
    )

    assert report["totals"] == {name: batch[name] for name in TOTALS}
    assert (report["totals"]["reversed_amount"], report["totals"]["fee_returned_amount"]) == (
        10_000,
        165,
    )
    assert batch["net_amount"] == 30_000 - 445
    *items, total = rows
    assert [(r["kind"], r["payment_id"], int(r["net_amount"])) for r in items][-1] == (
        "reversal",
        overturned.data["payment_id"],
        -9_835,
    )
    assert {name: int(total[name]) for name in TOTALS} == {name: batch[name] for name in TOTALS}


def test_another_merchants_batch_and_an_unknown_one_are_not_found(
    reader: Callable[[str], FlaskClient], batch: dict[str, Any]
) -> None:
    stranger = reader("MER_someone_else")

    for path in (
        f"/settlements/batches/{batch['id']}/report",
        "/settlements/batches/stb_nope/report",
    ):
        for suffix in ("", ".csv"):
            response = stranger.get(path + suffix)
            assert response.status_code == 404
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["code"] == "batch_not_found"

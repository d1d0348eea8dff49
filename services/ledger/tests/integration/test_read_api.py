"""The ledger's read API and adjustments, in-process over a ledger of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain.fees import parse_fee_policy
from ledger_service.entrypoints.app import create_app
from ledger_service.service_layer.posting import PostingInput, post_event
from ledger_service.settings import DEFAULT_FEE_POLICY, LedgerSettings
from payevents import Envelope
from paykit.auth.audiences import ADMIN_AUDIENCE, PAYMENTS_API_AUDIENCE
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys
from paykit.settings import Secret

pytestmark = pytest.mark.integration
ISSUER = "ledger-tests"
MARCH = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return generate_signing_key("ledger-test-1")


@pytest.fixture(scope="module")
def app(
    ledger_url: str, signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    jwks = tmp_path_factory.mktemp("auth") / "jwks.json"
    jwks.write_text(json.dumps(jwks_document(public_keys([signing_key]))))
    config = LedgerSettings(
        database_url=Secret(ledger_url),
        kafka_bootstrap_servers="unused:9092",
        auth_issuer=ISSUER,
        auth_jwks_path=Path(jwks),
        json_logs=False,
    )
    application = create_app(config)
    yield application
    application.extensions["ledger_service"].close()


@pytest.fixture
def as_user(app: Flask, signing_key: SigningKey) -> Callable[..., FlaskClient]:
    def client(subject: str, *, admin: bool = False) -> FlaskClient:
        token = signing_key.issue(
            issuer=ISSUER,
            audience=ADMIN_AUDIENCE if admin else PAYMENTS_API_AUDIENCE,
            subject=subject,
            ttl=timedelta(minutes=5),
            scopes=("ledger:admin",) if admin else ("payments:read",),
        )
        made = app.test_client()
        made.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return made

    return client


@pytest.fixture
def post(ledger_url: str) -> Callable[[Envelope], str]:
    def posted(envelope: Envelope) -> str:
        with psycopg.connect(ledger_url) as conn, conn.transaction():
            given = PostingInput(LedgerRepository(conn), parse_fee_policy(DEFAULT_FEE_POLICY))
            recorded = post_event(envelope, given)
        assert recorded is not None
        return recorded.transaction_id

    return posted


@pytest.fixture
def paid_twice(
    post: Callable[[Envelope], str],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
) -> list[str]:
    """Two payments of the merchant: 10,000 on 1 March, 20,000 on 3 March (EUR, 1.4% + 25)."""
    return [
        post(event("payment.succeeded", payment_facts(amount=10_000), at=MARCH)),
        post(event("payment.succeeded", payment_facts(amount=20_000), at=MARCH + timedelta(2))),
    ]


def test_a_merchant_sees_its_balances_now_and_as_of_a_past_time(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    client = as_user(merchant)
    now = client.get("/balances").get_json()
    assert now["data"] == [
        {"currency": "EUR", "escrow": 10_000 - 165 + 20_000 - 305, "payable": 0, "receivable": 0}
    ]
    then = client.get("/balances", query_string={"as_of": "2026-03-02T00:00:00Z"}).get_json()
    assert then["data"][0]["escrow"] == 10_000 - 165
    before = client.get("/balances", query_string={"as_of": "2026-02-01T00:00:00+01:00"})
    assert before.get_json()["data"][0]["escrow"] == 0


def test_an_entry_names_the_payment_it_moved(
    as_user: Callable[..., FlaskClient],
    merchant: str,
    post: Callable[[Envelope], str],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
) -> None:
    """So a merchant (and the dashboard's timeline) can tell a payment was posted before any
    settlement batch holds it."""
    facts = payment_facts(amount=10_000)
    transaction_id = post(event("payment.succeeded", facts, at=MARCH))

    page = as_user(merchant).get("/accounts/escrow/entries", query_string={"currency": "EUR"})

    [entry] = page.get_json()["data"]
    assert (entry["transaction_id"], entry["payment_id"]) == (transaction_id, facts["payment_id"])
    assert (entry["refund_id"], entry["settlement_batch_id"]) == (None, None)


def test_entries_come_newest_first_a_page_at_a_time(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    client = as_user(merchant)
    first = client.get("/accounts/escrow/entries", query_string={"currency": "EUR", "limit": 1})
    page = first.get_json()
    assert [e["transaction_id"] for e in page["data"]] == [paid_twice[1]]
    second = client.get(
        "/accounts/escrow/entries",
        query_string={"currency": "EUR", "limit": 1, "cursor": page["next_cursor"]},
    ).get_json()
    assert [e["transaction_id"] for e in second["data"]] == [paid_twice[0]]
    assert second["next_cursor"] is None
    bad = client.get("/accounts/escrow/entries", query_string={"currency": "EUR", "cursor": "x"})
    assert bad.status_code == 400


def test_a_transaction_is_shown_to_its_merchant_and_operators_only(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    mine = as_user(merchant).get(f"/transactions/{paid_twice[0]}")
    assert mine.status_code == 200
    assert len(mine.get_json()["entries"]) == 3 and mine.get_json()["hash"]
    assert as_user("MER_someone_else").get(f"/transactions/{paid_twice[0]}").status_code == 404
    admin = as_user("ops_bob", admin=True).get(f"/admin/transactions/{paid_twice[0]}")
    assert admin.get_json()["seq"] >= 1


def test_platform_accounts_and_the_trial_balance_need_the_admin_audience(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    assert as_user(merchant).get("/admin/trial-balance").status_code == 401
    trial = as_user("ops_bob", admin=True).get("/admin/trial-balance").get_json()
    assert trial["balanced"] is True
    [eur] = [c for c in trial["data"] if c["currency"] == "EUR"]
    assert eur["debits"] == eur["credits"] > 0
    platform = as_user("ops_bob", admin=True).get("/admin/balances").get_json()["data"]
    assert {"psp_clearing", "platform:fees"} <= {row["account"] for row in platform}


def test_operators_list_a_periods_transactions_a_page_at_a_time(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    admin = as_user("ops_bob", admin=True)
    period = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}
    query = {**period, "merchant_id": merchant, "kind": "payment", "limit": 1}
    first = admin.get("/admin/transactions", query_string=query).get_json()
    assert [row["id"] for row in first["data"]] == [paid_twice[0]]
    assert {e["account"] for e in first["data"][0]["entries"]} == {
        "psp_clearing",
        f"merchant:{merchant}:escrow",
        "platform:fees",
    }
    second = admin.get(
        "/admin/transactions", query_string={**query, "cursor": first["next_cursor"]}
    ).get_json()
    assert [row["id"] for row in second["data"]] == [paid_twice[1]]
    assert second["next_cursor"] is None
    march_first = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
    only_first = admin.get(
        "/admin/transactions", query_string={**march_first, "merchant_id": merchant}
    ).get_json()
    assert [row["id"] for row in only_first["data"]] == [paid_twice[0]]
    refunds = admin.get(
        "/admin/transactions", query_string={**period, "merchant_id": merchant, "kind": "refund"}
    ).get_json()
    assert refunds["data"] == []


def test_a_period_listing_refuses_bad_input_and_merchants(
    as_user: Callable[..., FlaskClient], merchant: str
) -> None:
    admin = as_user("ops_bob", admin=True)
    backwards = {"from": "2026-03-04T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    assert admin.get("/admin/transactions", query_string=backwards).status_code == 400
    assert admin.get("/admin/transactions", query_string={"from": "x"}).status_code == 400
    unknown_kind = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "kind": "gift"}
    assert admin.get("/admin/transactions", query_string=unknown_kind).status_code == 400
    period = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
    assert as_user(merchant).get("/admin/transactions", query_string=period).status_code == 401


def test_an_adjustment_is_a_balanced_transaction_with_its_reason_and_actor(
    as_user: Callable[..., FlaskClient], merchant: str, paid_twice: list[str]
) -> None:
    admin = as_user("ops_alice", admin=True)
    body = {
        "currency": "EUR",
        "reason": "fee refunded as goodwill",
        "entries": [
            {"account": "platform:fees", "direction": "debit", "amount": 165},
            {"account": f"merchant:{merchant}:escrow", "direction": "credit", "amount": 165},
        ],
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = admin.post("/admin/adjustments", json=body, headers=key)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["actor"] == "ops_alice"
    again = admin.post("/admin/adjustments", json=body, headers=key)
    assert again.get_json()["transaction_id"] == created.get_json()["transaction_id"]
    other = {**body, "reason": "something else"}
    assert admin.post("/admin/adjustments", json=other, headers=key).status_code == 409
    balances = as_user(merchant).get("/balances").get_json()["data"][0]
    assert balances["escrow"] == 10_000 - 165 + 20_000 - 305 + 165


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"reason": ""}, 422, "validation_failed"),
        (
            {
                "entries": [
                    {"account": "platform:fees", "direction": "debit", "amount": 1},
                    {"account": "psp_clearing", "direction": "credit", "amount": 2},
                ]
            },
            422,
            "invalid_posting",
        ),
        (
            {
                "entries": [
                    {"account": "nowhere", "direction": "debit", "amount": 1},
                    {"account": "psp_clearing", "direction": "credit", "amount": 1},
                ]
            },
            422,
            "unknown_account",
        ),
    ],
)
def test_an_adjustment_without_reason_or_balance_is_refused(
    as_user: Callable[..., FlaskClient],
    merchant: str,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = {
        "currency": "EUR",
        "reason": "correction",
        "entries": [
            {"account": "platform:fees", "direction": "debit", "amount": 1},
            {"account": "psp_clearing", "direction": "credit", "amount": 1},
        ],
        **change,
    }
    response = as_user("ops_alice", admin=True).post(
        "/admin/adjustments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (response.status_code, response.get_json()["code"]) == (status, code)


def test_an_adjustment_cannot_overdraw_escrow(
    as_user: Callable[..., FlaskClient], merchant: str
) -> None:
    body = {
        "currency": "EUR",
        "reason": "take back too much",
        "entries": [
            {"account": f"merchant:{merchant}:escrow", "direction": "debit", "amount": 1},
            {"account": "platform:fees", "direction": "credit", "amount": 1},
        ],
    }
    response = as_user("ops_alice", admin=True).post(
        "/admin/adjustments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (response.status_code, response.get_json()["code"]) == (422, "balance_constraint")

"""The payment API against the real PostgreSQL: idempotency, validation, isolation, refunds."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from payment_service.settings import PaymentSettings

pytestmark = pytest.mark.integration

BODY = {
    "amount": 3000,
    "currency": "EUR",
    "payment_method": "pm_card_visa",
    "description": "order 42",
    "metadata": {"order": "42"},
}


def _count(payment_db: str, sql: str, *params: Any) -> int:
    with psycopg.connect(payment_db) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
    return int(row[0]) if row else 0


def _payments_of(payment_db: str, merchant: str) -> int:
    return _count(payment_db, "SELECT count(*) FROM payments WHERE merchant_id = %s", merchant)


def test_creating_a_payment_stores_it_and_queues_its_event(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
) -> None:
    response = client.post("/payments", json=BODY, headers=headers(f"key-{unique}"))
    assert response.status_code == 201
    payment = response.get_json()
    assert payment["id"].startswith("PAY_") and len(payment["id"]) >= 24
    assert payment | {"id": "", "created_at": "", "updated_at": ""} == {
        "id": "",
        "object": "payment",
        "status": "created",
        "amount": 3000,
        "currency": "EUR",
        "merchant_id": merchant,
        "payment_method": "pm_card_visa",
        "description": "order 42",
        "metadata": {"order": "42"},
        "amount_refunded": 0,
        "failure_code": None,
        "failure_message": None,
        "created_at": "",
        "updated_at": "",
    }
    assert response.headers["Idempotent-Replayed"] == "false"
    assert (
        _count(payment_db, "SELECT count(*) FROM outbox WHERE key = %s", payment["id"].encode())
        == 1
    )


def test_fifty_concurrent_identical_requests_make_one_payment(
    app: Flask, headers: Callable[..., dict[str, str]], payment_db: str, merchant: str, unique: str
) -> None:
    request_headers = headers(f"key-{unique}")

    def post(_: int) -> tuple[int, dict[str, Any], str]:
        response = app.test_client().post("/payments", json=BODY, headers=request_headers)
        return response.status_code, response.get_json(), response.headers["Idempotent-Replayed"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(50)))
    assert {status for status, _, _ in results} == {201}
    assert len({repr(sorted(body.items())) for _, body, _ in results}) == 1
    assert sorted(replayed for _, _, replayed in results) == ["false"] + ["true"] * 49
    assert _payments_of(payment_db, merchant) == 1


def test_a_different_request_under_the_same_key_is_refused(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
) -> None:
    assert client.post("/payments", json=BODY, headers=headers(f"k-{unique}")).status_code == 201
    other = client.post("/payments", json={**BODY, "amount": 3001}, headers=headers(f"k-{unique}"))
    assert other.status_code == 422
    assert other.content_type == "application/problem+json"
    assert other.get_json()["code"] == "idempotency_key_reused"
    assert _payments_of(payment_db, merchant) == 1


def test_the_same_key_from_another_merchant_is_another_request(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
) -> None:
    first = client.post("/payments", json=BODY, headers=headers(f"k-{unique}"))
    second = client.post(
        "/payments", json=BODY, headers=headers(f"k-{unique}", merchant_id=f"{merchant}_b")
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]


def test_a_duplicate_of_a_request_still_in_flight_gets_409(
    payment_settings: PaymentSettings,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
) -> None:
    from dataclasses import replace

    from payment_service.entrypoints.app import create_app

    impatient = create_app(replace(payment_settings, idempotency_lock_timeout_ms=300))
    try:
        with psycopg.connect(payment_db) as holder:
            holder.execute(  # the first request's transaction, not yet committed
                "INSERT INTO idempotency_keys (merchant_id, key, fingerprint) VALUES (%s, %s, 'x')",
                (merchant, f"k-{unique}"),
            )
            response = impatient.test_client().post(
                "/payments", json=BODY, headers=headers(f"k-{unique}")
            )
            holder.rollback()
    finally:
        impatient.extensions["payment_service"].close()
    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_request_in_flight"
    assert _payments_of(payment_db, merchant) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "amount": -5}, "amount"),
        ({**BODY, "amount": 0}, "amount"),
        ({**BODY, "amount": 10.5}, "amount"),
        ({**BODY, "amount": "3000"}, "amount"),
        ({**BODY, "amount": True}, "amount"),
        ({**BODY, "amount": 10**12}, "amount"),
        ({**BODY, "currency": "XYZ"}, "currency"),
        ({**BODY, "currency": "eur"}, "currency"),
        ({**BODY, "metadata": {f"k{n}": "v" for n in range(21)}}, "metadata"),
        ({**BODY, "metadata": {"k": "v" * 501}}, "metadata"),
        ({**BODY, "payment_method": "4242424242424242"}, "payment_method"),
        ({**BODY, "card_number": "4242424242424242"}, "card_number"),
        ({k: v for k, v in BODY.items() if k != "amount"}, "amount"),
    ],
)
def test_invalid_bodies_get_a_problem_and_write_nothing(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = client.post("/payments", json=body, headers=headers(f"k-{unique}"))
    assert response.status_code == 422
    problem = response.get_json()
    assert response.content_type == "application/problem+json"
    assert problem["code"] == "validation_failed" and field in problem["errors"]
    assert _payments_of(payment_db, merchant) == 0
    assert (
        _count(payment_db, "SELECT count(*) FROM idempotency_keys WHERE merchant_id = %s", merchant)
        == 0
    )


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b'{"amount": 3000,', "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "invalid_json_body"),
        (b"amount=3000", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_malformed_requests_get_a_problem(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
    raw: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/payments", data=raw, content_type=content_type, headers=headers(f"k-{unique}")
    )
    assert (response.status_code, response.get_json()["code"]) == (status, code)
    assert _payments_of(payment_db, merchant) == 0


def test_a_missing_idempotency_key_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], payment_db: str, merchant: str
) -> None:
    response = client.post("/payments", json=BODY, headers=headers())
    assert response.status_code == 400
    assert response.get_json()["code"] == "idempotency_key_missing"
    assert _payments_of(payment_db, merchant) == 0


def test_requests_without_a_valid_token_or_scope_are_refused(
    client: FlaskClient, token_for: Callable[..., str], merchant: str
) -> None:
    assert client.get("/payments").status_code == 401
    bad = client.get("/payments", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "invalid_token"
    assert bad.get_json()["reason"] == "malformed_token"
    read_only = {
        "Authorization": f"Bearer {token_for(merchant, ('payments:read',))}",
        "Idempotency-Key": "k",
    }
    refused = client.post("/payments", json=BODY, headers=read_only)
    assert refused.status_code == 403 and refused.get_json()["code"] == "insufficient_scope"


def test_another_merchants_payment_is_not_found(
    client: FlaskClient, headers: Callable[..., dict[str, str]], merchant: str, unique: str
) -> None:
    payment = client.post("/payments", json=BODY, headers=headers(f"k-{unique}")).get_json()
    assert client.get(f"/payments/{payment['id']}", headers=headers()).status_code == 200
    foreign = client.get(f"/payments/{payment['id']}", headers=headers(merchant_id="MER_other"))
    assert foreign.status_code == 404
    assert foreign.get_json()["code"] == "payment_not_found"


def test_listing_filters_by_status_and_pages_with_a_cursor(
    client: FlaskClient, headers: Callable[..., dict[str, str]], payment_db: str, unique: str
) -> None:
    ids = [
        client.post("/payments", json=BODY, headers=headers(f"k-{unique}-{n}")).get_json()["id"]
        for n in range(5)
    ]
    with psycopg.connect(payment_db) as conn:
        conn.execute("UPDATE payments SET status = 'failed' WHERE id = %s", (ids[0],))
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "status": "created", **({"cursor": cursor} if cursor else {})}
        page = client.get("/payments", query_string=query, headers=headers()).get_json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids[1:]))
    bad = client.get("/payments", query_string={"cursor": "garbage!"}, headers=headers())
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_cursor"


def _succeeded_payment(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    key: str,
    amount: int,
) -> str:
    payment = client.post(
        "/payments", json={**BODY, "amount": amount}, headers=headers(key)
    ).get_json()
    with psycopg.connect(payment_db) as conn:
        conn.execute(
            "UPDATE payments SET status = 'succeeded', psp_reference = 'ch_test' WHERE id = %s",
            (payment["id"],),
        )
    return str(payment["id"])


def test_only_succeeded_payments_refund(
    client: FlaskClient, headers: Callable[..., dict[str, str]], unique: str
) -> None:
    payment = client.post("/payments", json=BODY, headers=headers(f"k-{unique}")).get_json()
    refused = client.post(
        f"/payments/{payment['id']}/refunds", json={"amount": 100}, headers=headers(f"r-{unique}")
    )
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "payment_not_refundable"


def test_concurrent_refunds_never_exceed_the_captured_amount(
    app: Flask,
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    unique: str,
) -> None:
    payment_id = _succeeded_payment(client, headers, payment_db, f"k-{unique}", 1000)

    def refund(n: int) -> int:
        response = app.test_client().post(
            f"/payments/{payment_id}/refunds",
            json={"amount": 300},
            headers=headers(f"r-{unique}-{n}"),
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(refund, range(20)))
    assert statuses == [201] * 3 + [422] * 17
    assert (
        _count(payment_db, "SELECT sum(amount) FROM refunds WHERE payment_id = %s", payment_id)
        == 900
    )
    assert (
        _count(payment_db, "SELECT pending_refund_amount FROM payments WHERE id = %s", payment_id)
        == 900
    )


def test_a_full_refund_takes_what_is_left(
    client: FlaskClient, headers: Callable[..., dict[str, str]], payment_db: str, unique: str
) -> None:
    payment_id = _succeeded_payment(client, headers, payment_db, f"k-{unique}", 1000)
    partial = client.post(
        f"/payments/{payment_id}/refunds", json={"amount": 250}, headers=headers(f"r1-{unique}")
    )
    rest = client.post(f"/payments/{payment_id}/refunds", json={}, headers=headers(f"r2-{unique}"))
    assert partial.status_code == rest.status_code == 201
    assert rest.get_json()["amount"] == 750
    too_much = client.post(
        f"/payments/{payment_id}/refunds", json={"amount": 1}, headers=headers(f"r3-{unique}")
    )
    assert too_much.status_code == 422
    assert too_much.get_json()["code"] == "refund_exceeds_captured_amount"
    listed = client.get(f"/payments/{payment_id}/refunds", headers=headers()).get_json()
    assert [r["amount"] for r in listed["data"]] == [250, 750]


def test_idempotency_records_are_kept_a_day_and_pruned_after(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    payment_db: str,
    merchant: str,
    unique: str,
) -> None:
    from payment_service.adapters.unit_of_work import PostgresUnitOfWork

    fresh = client.post("/payments", json=BODY, headers=headers(f"fresh-{unique}"))
    old = client.post("/payments", json=BODY, headers=headers(f"old-{unique}"))
    assert fresh.status_code == old.status_code == 201
    with psycopg.connect(payment_db) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
            " WHERE merchant_id = %s AND key = %s",
            (merchant, f"old-{unique}"),
        )
        pruned = PostgresUnitOfWork(conn).idempotency.prune(24)
    assert pruned >= 1
    keys = _count(
        payment_db, "SELECT count(*) FROM idempotency_keys WHERE merchant_id = %s", merchant
    )
    assert keys == 1
    replay = client.post("/payments", json=BODY, headers=headers(f"fresh-{unique}"))
    assert replay.headers["Idempotent-Replayed"] == "true"

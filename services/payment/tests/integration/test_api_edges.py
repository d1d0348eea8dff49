"""The payment API's edges on the real PostgreSQL: bad input is a 4xx problem, never a 500;
lists are bounded; a payment's PSP reports say what became of them; lock timeouts are restored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from payment_service.adapters.idempotency_repository import PostgresIdempotency
from payment_service.bootstrap import PaymentService
from payment_service.service_layer.charging import charge_payment
from payment_service.service_layer.reports import apply_payment_report
from payment_service.testing import FakeProvider, report_about

CONFIRM_AFTER = timedelta(minutes=5)
pytestmark = pytest.mark.integration

BODY = {"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa"}


def raw_post(client: FlaskClient, path: str, raw: bytes, headers: dict[str, str]) -> Any:
    return client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("subject", ["a@b.com", "auth0|x", "has space", "-leading-dash"])
def test_a_token_whose_subject_is_no_merchant_id_gets_a_problem_not_a_500(
    client: FlaskClient, token_for: Callable[..., str], unique: str, subject: str
) -> None:
    auth = {"Authorization": f"Bearer {token_for(subject)}"}

    created = client.post("/payments", json=BODY, headers={**auth, "Idempotency-Key": unique})
    listed = client.get("/payments", headers=auth)

    for response in (created, listed):
        assert response.status_code == 403, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "invalid_subject"


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "description": "nul \u0000 inside"},
        {**BODY, "metadata": {"order": "4\u00002"}},
        {**BODY, "metadata": {"or\u0000der": "42"}},
    ],
)
def test_a_nul_character_in_stored_text_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], unique: str, body: dict[str, Any]
) -> None:
    response = client.post("/payments", json=body, headers=headers(unique))

    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa",'
        b' "description": "\\ud800"}',
        b'{"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa",'
        b' "metadata": {"k": "\\udfff"}}',
        b'{"\\ud800": 1}',
        b'{"amount": 3000, "currency": "\\udc00UR", "payment_method": "pm_card_visa"}',
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], unique: str, raw: bytes
) -> None:
    response = raw_post(client, "/payments", raw, headers(unique))

    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_text"


def test_a_lone_surrogate_in_a_refund_body_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], unique: str
) -> None:
    response = raw_post(
        client, "/payments/PAY_x/refunds", b'{"reason": "\\ud800"}', headers(f"r-{unique}")
    )

    assert response.status_code == 400


@pytest.mark.parametrize("payment_id", ["PAY_%00", "%00", "PAY_\u00e9", "x" * 300])
def test_an_id_that_is_none_of_ours_is_not_found(
    client: FlaskClient, headers: Callable[..., dict[str, str]], unique: str, payment_id: str
) -> None:
    looked_up = client.get(f"/payments/{payment_id}", headers=headers())
    refunds = client.get(f"/payments/{payment_id}/refunds", headers=headers())
    refunded = client.post(
        f"/payments/{payment_id}/refunds", json={}, headers=headers(f"r-{unique}")
    )

    assert [r.status_code for r in (looked_up, refunds, refunded)] == [404, 404, 404]


@pytest.mark.parametrize("cursor", ["WyIyMDI1LTAzLTAxVDEyOjAwOjAwKzAwOjAwIiwgIlBBWV9cdTAwMDAiXQ"])
def test_a_forged_cursor_is_refused(
    client: FlaskClient, headers: Callable[..., dict[str, str]], cursor: str
) -> None:
    response = client.get(f"/payments?cursor={cursor}", headers=headers())

    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_cursor"


def succeeded_payment(
    client: FlaskClient, headers: Callable[..., dict[str, str]], service: PaymentService, key: str
) -> str:
    created = client.post("/payments", json={**BODY, "amount": 10_000}, headers=headers(key))
    assert created.status_code == 201
    charge_payment(created.get_json()["id"], service.provider)
    payment_id: str = created.get_json()["id"]
    return payment_id


def test_refunds_of_a_payment_are_listed_a_bounded_page_at_a_time(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    make_service: Callable[..., PaymentService],
    unique: str,
) -> None:
    payment_id = succeeded_payment(client, headers, make_service(), unique)
    made = []
    for n in range(5):
        refund = client.post(
            f"/payments/{payment_id}/refunds", json={"amount": 100}, headers=headers(f"{unique}{n}")
        )
        made.append(refund.get_json()["id"])

    first = client.get(f"/payments/{payment_id}/refunds?limit=2", headers=headers()).get_json()
    rest = client.get(
        f"/payments/{payment_id}/refunds?limit=10&cursor={first['next_cursor']}", headers=headers()
    ).get_json()
    too_many = client.get(f"/payments/{payment_id}/refunds?limit=101", headers=headers())

    assert [r["id"] for r in first["data"]] + [r["id"] for r in rest["data"]] == made
    assert rest["next_cursor"] is None
    assert too_many.status_code == 400


def test_a_report_that_changed_nothing_is_kept_with_its_reason(
    client: FlaskClient,
    headers: Callable[..., dict[str, str]],
    make_service: Callable[..., PaymentService],
    unique: str,
) -> None:
    psp = FakeProvider()
    psp.charges_will("processing")
    service = make_service(psp)
    created = client.post("/payments", json=BODY, headers=headers(unique)).get_json()
    charge_payment(created["id"], service.provider)
    with service.transactions() as uow:
        payment = uow.payments.get(created["id"])
        assert payment is not None
        apply_payment_report(
            report_about(payment, "succeeded", currency="JPY"),
            uow,
            service.clock(),
            confirm_after=CONFIRM_AFTER,
        )

    reports = client.get(f"/payments/{created['id']}/reports", headers=headers()).get_json()
    unchanged = client.get(f"/payments/{created['id']}", headers=headers()).get_json()

    [kept] = reports["data"]
    assert (kept["verdict"], kept["currency"], kept["source"]) == ("contradicted", "JPY", "webhook")
    assert kept["reason"] == "currency JPY is not the EUR we hold"
    assert unchanged["status"] == "processing"


def test_claiming_a_key_restores_the_transactions_own_lock_timeout(payment_db: str) -> None:
    with psycopg.connect(payment_db) as conn, conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '7s'")
        PostgresIdempotency(conn, lock_timeout_ms=250).claim("MER_lock", "key-1", "fp")
        after = conn.execute("SHOW lock_timeout").fetchone()

    assert after == ("7s",)

"""The public API through the running gateway, as merchants meet it: credentials in, tokens out,
and one merchant kept out of everything of another's: payments, refunds, balances, ledger
entries, settlement batches and their reports.

Merchants are made per test through the gateway's admin API (an operator's token); their
tokens come from ``POST /v1/auth/token`` (``conftest.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from e2e_clients import Merchant, Operator, client
from e2e_observe import Topics
from e2e_settlement import ZERO, batch_closed_with, paid_and_itemised, paid_out
from jwt.algorithms import RSAAlgorithm

from paykit.auth.jwt import generate_signing_key

pytestmark = pytest.mark.e2e

# GATEWAY_MAX_BODY_BYTES's default (64 KiB); the test cluster keeps it.
MAX_BODY_BYTES = 64 * 1024


def _token(gateway: httpx.Client, client_id: str, client_secret: str) -> httpx.Response:
    return gateway.post(
        "/v1/auth/token", json={"client_id": client_id, "client_secret": client_secret}
    )


def test_a_merchant_sees_nothing_of_another_merchants_payments_money_or_settlements(
    new_merchant: Callable[[], Merchant],
    operator: Operator,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    owner, other = new_merchant(), new_merchant()
    payment_id = paid_and_itemised(owner, topics, 4000, 4000 - fee(4000))
    batch, _ = batch_closed_with(owner, operator, payment_id)
    paid_out(owner, operator, batch["id"], 4000 - fee(4000))
    payment = owner.payment(payment_id)

    read = other.api.get(f"/v1/payments/{payment['id']}")
    refund = other.post_refund(payment["id"], 1000)
    refunds = other.api.get(f"/v1/payments/{payment['id']}/refunds")
    settlement = other.api.get(f"/v1/settlements/{batch['id']}")
    report = other.api.get(f"/v1/settlements/{batch['id']}/report.csv")

    assert {
        "payment": read.status_code,
        "refund": refund.status_code,
        "refunds": refunds.status_code,
        "settlement": settlement.status_code,
        "report": report.status_code,
    } == dict.fromkeys(["payment", "refund", "refunds", "settlement", "report"], 404)
    assert payment["id"] not in other.payment_ids()
    assert other.settlements() == []
    assert other.balances() == {}
    assert [other.entries(account) for account in ("escrow", "payable", "receivable")] == [
        [],
        [],
        [],
    ]
    after = owner.payment(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 0)
    assert owner.refunds(payment["id"]) == []
    assert owner.balances() == ZERO
    assert [b["id"] for b in owner.settlements()] == [batch["id"]]


def test_a_revoked_key_gets_no_token(
    new_merchant: Callable[[], Merchant], gateway: httpx.Client, operator: Operator
) -> None:
    merchant = new_merchant()
    revoked = operator.admin.post(
        f"/v1/admin/merchants/{merchant.merchant_id}/keys/{merchant.key_id}/revoke"
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"

    refused = _token(gateway, merchant.client_id, merchant.client_secret)

    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    assert "access_token" not in refused.json()


def _oversized_create(merchant: Merchant) -> httpx.Response:
    oversized = json.dumps(
        {
            "amount": 3000,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "description": "x" * MAX_BODY_BYTES,
        }
    )
    return merchant.api.post(
        "/v1/payments",
        content=oversized,
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )


def test_a_body_over_the_limit_is_413_and_creates_nothing(
    new_merchant: Callable[[], Merchant],
) -> None:
    merchant = new_merchant()

    response = _oversized_create(merchant)

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    merchant.api.close()  # the refused connection is not reused (the next test says why)
    with client(str(merchant.api.base_url), merchant.access_token) as fresh:
        assert fresh.get("/v1/payments").json()["data"] == []


def test_a_413_says_the_connection_closes(new_merchant: Callable[[], Merchant]) -> None:
    """The body left unread makes the connection unusable, so the answer must say it closes
    (RFC 9112 9.6); saying keep-alive makes the client's next request on it die unanswered,
    which for a create leaves its outcome unknown."""
    response = _oversized_create(new_merchant())

    assert response.status_code == 413
    assert response.headers.get("Connection", "").lower() == "close"


@pytest.mark.parametrize(
    "smuggled",
    [{"status": "succeeded"}, {"merchant_id": "MER_someone_else"}, {"amount_refunded": 3000}],
    ids=lambda field: next(iter(field)),
)
def test_a_create_body_carrying_a_server_owned_field_creates_nothing(
    new_merchant: Callable[[], Merchant], smuggled: dict[str, Any]
) -> None:
    merchant = new_merchant()
    existing = merchant.create_payment()

    response = merchant.api.post(
        "/v1/payments",
        json={"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa", **smuggled},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    assert response.status_code == 422, response.text
    [field] = smuggled
    assert response.json()["errors"] == {field: ["Unknown field."]}
    assert merchant.payment_ids() == [existing["id"]]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _published_public_pem(gateway: httpx.Client, kid: str) -> bytes:
    """The PEM an attacker would make of the key the gateway publishes under ``kid``."""
    [jwk] = [
        key for key in gateway.get("/.well-known/jwks.json").json()["keys"] if key["kid"] == kid
    ]
    public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    return public_key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _forged_from(real: str, gateway: httpx.Client) -> dict[str, str]:
    """Tokens an attacker makes from a merchant's real one, each refused for its own reason."""
    head, body, signature = real.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    hs_head = _segment({"alg": "HS256", "typ": "JWT", "kid": header["kid"]})
    hs_signature = hmac.new(
        _published_public_pem(gateway, header["kid"]), f"{hs_head}.{body}".encode(), hashlib.sha256
    ).digest()
    stranger = generate_signing_key("not-published")
    return {
        "alg_none": f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{body}.",
        "hs256_with_the_public_key": f"{hs_head}.{body}.{_b64url(hs_signature)}",
        "tampered_payload": f"{head}.{_segment({**claims, 'sub': 'MER_someone_else'})}.{signature}",
        "unknown_kid": stranger.issue(
            issuer=claims["iss"],
            audience=claims["aud"],
            subject=claims["sub"],
            ttl=timedelta(minutes=5),
            scopes=tuple(claims["scope"].split()),
        ),
    }


def test_forged_tokens_are_refused_at_the_gateway(
    new_merchant: Callable[[], Merchant], gateway: httpx.Client
) -> None:
    merchant = new_merchant()
    genuine = merchant.api.get("/v1/payments")
    assert genuine.status_code == 200, genuine.text

    answers = {
        name: gateway.get("/v1/payments", headers={"Authorization": f"Bearer {token}"})
        for name, token in _forged_from(merchant.access_token, gateway).items()
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        answers, 401
    )
    assert {name: answer.json()["reason"] for name, answer in answers.items()} == {
        "alg_none": "unsupported_algorithm",
        "hs256_with_the_public_key": "unsupported_algorithm",
        "tampered_payload": "invalid_signature",
        "unknown_kid": "unknown_key",
    }
    forged_create = gateway.post(
        "/v1/payments",
        json={"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa"},
        headers={
            "Authorization": f"Bearer {_forged_from(merchant.access_token, gateway)['alg_none']}",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
    assert forged_create.status_code == 401, forged_create.text
    assert merchant.payment_ids() == []

"""The public API through the running gateway, as merchants meet it: credentials in, tokens out,
and one merchant kept out of another's payments.

Merchants are made per test through the gateway's admin API (an operator's token signed with the
cluster's development key, which the gateway imported as its first signing key, as
``localcluster token --admin`` and payctl do); their tokens come from ``POST /v1/auth/token``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from paykit.auth.audiences import OPERATOR_SCOPES
from paykit.auth.jwt import SigningKey, generate_signing_key
from paykit.testing import wait_until

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0
# GATEWAY_MAX_BODY_BYTES's default (64 KiB); the test cluster keeps it.
MAX_BODY_BYTES = 64 * 1024


@dataclass
class Merchant:
    """A merchant made through the admin API, with its first key and the gateway as it sees it."""

    merchant_id: str
    key_id: str
    client_id: str
    client_secret: str
    api: httpx.Client
    access_token: str

    def create_payment(self, amount: int = 3000) -> dict[str, Any]:
        response = self.api.post(
            "/v1/payments",
            json={"amount": amount, "currency": "EUR", "payment_method": "pm_card_visa"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def payment(self, payment_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/payments/{payment_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def payment_ids(self) -> list[str]:
        response = self.api.get("/v1/payments")
        assert response.status_code == 200, response.text
        return [payment["id"] for payment in response.json()["data"]]


def _gateway(**headers: str) -> httpx.Client:
    return httpx.Client(base_url=os.environ["GATEWAY_URL"], timeout=15, headers=headers)


def _token(gateway: httpx.Client, client_id: str, client_secret: str) -> httpx.Response:
    return gateway.post(
        "/v1/auth/token", json={"client_id": client_id, "client_secret": client_secret}
    )


@pytest.fixture
def gateway() -> Iterator[httpx.Client]:
    """The gateway without a token, once it answers."""
    with _gateway() as client:

        def ready() -> bool:
            try:
                return client.get("/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready, timeout=TIMEOUT), "the gateway never became ready"
        yield client


@pytest.fixture
def gateway_admin(signing_key: SigningKey, gateway: httpx.Client) -> Iterator[httpx.Client]:
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_ADMIN_AUDIENCE"],
        subject="ops_e2e_gateway",
        ttl=timedelta(minutes=10),
        scopes=OPERATOR_SCOPES,
    )
    with _gateway(Authorization=f"Bearer {token}") as client:
        yield client


@pytest.fixture
def new_merchant(
    gateway: httpx.Client, gateway_admin: httpx.Client
) -> Iterator[Callable[[], Merchant]]:
    """``new_merchant()``: a fresh merchant, its first key, and a token from the gateway."""
    clients: list[httpx.Client] = []

    def make() -> Merchant:
        made = gateway_admin.post("/v1/admin/merchants", json={"name": f"e2e {uuid.uuid4().hex}"})
        assert made.status_code == 201, made.text
        body = made.json()
        issued = _token(gateway, body["client_id"], body["client_secret"])
        assert issued.status_code == 200, issued.text
        access_token = issued.json()["access_token"]
        api = _gateway(Authorization=f"Bearer {access_token}")
        clients.append(api)
        return Merchant(
            body["merchant_id"],
            body["key_id"],
            body["client_id"],
            body["client_secret"],
            api,
            access_token,
        )

    yield make
    for client in clients:
        client.close()


def _wait_for_status(merchant: Merchant, payment_id: str, status: str) -> dict[str, Any]:
    assert wait_until(
        lambda: merchant.payment(payment_id)["status"] == status, timeout=TIMEOUT, interval=0.2
    ), f"{payment_id} never became {status}: {merchant.payment(payment_id)}"
    return merchant.payment(payment_id)


def test_a_merchant_cannot_read_list_or_refund_another_merchants_payment(
    new_merchant: Callable[[], Merchant],
) -> None:
    owner, other = new_merchant(), new_merchant()
    payment = owner.create_payment(amount=4000)
    before = _wait_for_status(owner, payment["id"], "succeeded")

    read = other.api.get(f"/v1/payments/{payment['id']}")
    listed = other.payment_ids()
    refund = other.api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 1000},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    refunds = other.api.get(f"/v1/payments/{payment['id']}/refunds")

    assert read.status_code == 404, read.text
    assert payment["id"] not in listed
    assert refund.status_code == 404, refund.text
    assert refunds.status_code == 404, refunds.text
    after = owner.payment(payment["id"])
    assert after["status"] == "succeeded" and after["amount_refunded"] == 0
    assert after == before
    assert owner.api.get(f"/v1/payments/{payment['id']}/refunds").json()["data"] == []


def test_a_revoked_key_gets_no_token(
    new_merchant: Callable[[], Merchant], gateway: httpx.Client, gateway_admin: httpx.Client
) -> None:
    merchant = new_merchant()
    revoked = gateway_admin.post(
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
    with _gateway(Authorization=f"Bearer {merchant.access_token}") as fresh:
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

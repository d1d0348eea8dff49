"""Forged tokens are refused at the gateway's edge; a rotated key is trusted without restarts.

The edge's upstreams are a closed port, so a forged token that got past the gateway's own
check would answer 502: every 401 here is the gateway's refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt as pyjwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient

from gateway_service.adapters.key_encryption import (
    KeyEncryption,
    UndecryptableKey,
    generate_key_encryption_key,
)
from gateway_service.service_layer.signing import SigningKeys
from paykit.auth.jwt import SigningKey, generate_signing_key
from paykit.testing import wait_until
from paykit.web_auth import load_bearer_auth

pytestmark = pytest.mark.integration


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def forged(real: str, first_key: SigningKey) -> dict[str, str]:
    """Each attack the issue lists, made from a real token of the gateway."""
    header = pyjwt.get_unverified_header(real)
    claims = claims_of(real)
    head, body, signature = real.split(".")
    public_pem = first_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = segment({"alg": "HS256", "typ": "JWT", "kid": header["kid"]})
    hs_input = f"{hs_header}.{body}".encode()
    hs_signature = b64url(hmac.new(public_pem, hs_input, hashlib.sha256).digest())
    other = generate_signing_key(header["kid"])  # the right kid, an attacker's key
    stranger = generate_signing_key("not-published")
    expired = {**claims, "iat": claims["iat"] - 3600, "nbf": claims["iat"] - 3600}
    expired["exp"] = claims["iat"] - 1800
    return {
        "alg_none": f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{body}.",
        "hs256_with_the_public_key": f"{hs_input.decode()}.{hs_signature}",
        "expired": pyjwt.encode(
            expired, first_key.private_key_pem(), algorithm="RS256", headers=header
        ),
        "wrong_audience": pyjwt.encode(
            {**claims, "aud": "payments-admin"},
            first_key.private_key_pem(),
            algorithm="RS256",
            headers=header,
        ),
        "tampered_payload": f"{head}.{segment({**claims, 'sub': 'MER_someone_else'})}.{signature}",
        "signed_by_another_key_under_its_kid": pyjwt.encode(
            claims, other.private_key_pem(), algorithm="RS256", headers=header
        ),
        "unknown_kid": pyjwt.encode(
            claims,
            stranger.private_key_pem(),
            algorithm="RS256",
            headers={**header, "kid": "not-published"},
        ),
    }


def kid_of(token: str) -> str:
    return str(pyjwt.get_unverified_header(token)["kid"])


def test_forged_tokens_get_401_at_the_gateway(
    client: FlaskClient,
    first_key: SigningKey,
    new_merchant: Callable[[], dict[str, Any]],
    token_for: Callable[[dict[str, Any]], str],
) -> None:
    real = token_for(new_merchant())
    genuine = client.get("/v1/payments", headers={"Authorization": f"Bearer {real}"})
    assert genuine.status_code == 502  # past the edge; the upstream is a closed port
    answers = {
        name: client.get("/v1/payments", headers={"Authorization": f"Bearer {token}"})
        for name, token in forged(real, first_key).items()
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == dict.fromkeys(answers, 401)
    reasons = {name: answer.get_json()["reason"] for name, answer in answers.items()}
    assert reasons == {
        "alg_none": "unsupported_algorithm",
        "hs256_with_the_public_key": "unsupported_algorithm",
        "expired": "token_expired",
        "wrong_audience": "invalid_audience",
        "tampered_payload": "invalid_signature",
        "signed_by_another_key_under_its_kid": "invalid_signature",
        "unknown_kid": "unknown_key",
    }


def test_after_a_rotation_old_tokens_stay_valid_and_a_service_trusts_the_new_kid(
    make_gateway: Callable[..., Flask],
    admin: dict[str, str],
    serve: Callable[[Flask], Any],
    tmp_path: Any,
) -> None:
    gateway = make_gateway(key_activation_delay=timedelta(seconds=6))
    client = gateway.test_client()
    credentials = client.post(
        "/v1/admin/merchants", json={"name": "Rotating"}, headers=admin
    ).get_json()

    def token() -> str:
        return str(
            client.post(
                "/v1/auth/token",
                json={k: credentials[k] for k in ("client_id", "client_secret")},
            ).get_json()["access_token"]
        )

    with serve(gateway) as served:
        service_auth = load_bearer_auth(  # a payment service, started before the rotation
            issuer="payments-gateway",
            audience="payments-api",
            jwks_path=tmp_path / "no-file.json",
            realm="payments",
            jwks_url=f"{served.url}/.well-known/jwks.json",
        )
        before = token()
        rotated = client.post("/v1/admin/signing-keys/rotate", headers=admin)
        assert rotated.status_code == 201
        old_kid, new_kid = rotated.get_json()["retired_kid"], rotated.get_json()["kid"]
        assert pyjwt.get_unverified_header(before)["kid"] == old_kid
        published = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
        assert published == {old_kid, new_kid}  # published at once, signing a little later
        again = client.post("/v1/admin/signing-keys/rotate", headers=admin)
        assert again.status_code == 409

        tokens = [token()]

        def signed_by_the_new_key() -> bool:
            tokens.append(token())
            return kid_of(tokens[-1]) == str(new_kid)

        assert kid_of(tokens[0]) == old_kid  # the old key signs until the new one's time
        assert wait_until(signed_by_the_new_key, timeout=15)
        after = tokens[-1]
        for bearer in (before, after):
            claims = service_auth.authorise(f"Bearer {bearer}", "payments:read")
            assert claims.subject == credentials["merchant_id"]
            edge = client.get("/v1/payments", headers={"Authorization": f"Bearer {bearer}"})
            assert edge.status_code == 502  # the gateway's own check passes both

        # once the last token of the old key has expired, the key leaves the JWKS
        url = gateway.extensions["gateway_service"].settings.database_url.reveal()
        with psycopg.connect(url) as conn:
            conn.execute(
                "UPDATE signing_keys SET published_until = now() - interval '1 second'"
                " WHERE kid = %s",
                (old_kid,),
            )
        published = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
        assert published == {new_kid}
        statuses = client.get("/v1/admin/signing-keys", headers=admin).get_json()["data"]
        assert {k["kid"]: k["status"] for k in statuses} == {old_kid: "expired", new_kid: "signing"}


def test_a_retired_key_is_published_until_its_last_token_expired(
    make_gateway: Callable[..., Flask], admin: dict[str, str]
) -> None:
    gateway = make_gateway(token_ttl=timedelta(minutes=10))
    client = gateway.test_client()
    client.post("/v1/admin/signing-keys/rotate", headers=admin)
    keys = client.get("/v1/admin/signing-keys", headers=admin).get_json()["data"]
    retired = next(k for k in keys if k["retired_at"])
    lifetime = datetime.fromisoformat(retired["published_until"]) - datetime.fromisoformat(
        retired["retired_at"]
    )
    assert lifetime >= timedelta(minutes=10)


def test_signing_keys_do_not_open_under_another_key_encryption_key(
    make_gateway: Callable[..., Flask],
) -> None:
    gateway = make_gateway()
    service = gateway.extensions["gateway_service"]
    foreign = SigningKeys(
        service.pool,
        KeyEncryption(base64.urlsafe_b64decode(generate_key_encryption_key())),
        token_ttl=service.settings.token_ttl,
    )
    with pytest.raises(UndecryptableKey, match="does not decrypt"):
        foreign.current()

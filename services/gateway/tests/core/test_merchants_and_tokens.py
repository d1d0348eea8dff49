"""Merchants, API keys shown once and stored as hashes, and client-credentials tokens."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway_service.bootstrap import import_initial_key
from paykit.auth.jwt import SigningKey

pytestmark = pytest.mark.integration

NewMerchant = Callable[[], dict[str, Any]]


def database_url(gateway: Flask) -> str:
    return str(gateway.extensions["gateway_service"].settings.database_url.reveal())


def test_a_merchant_gets_a_high_entropy_secret_shown_once_and_stored_as_a_hash(
    gateway: Flask, client: FlaskClient, admin: dict[str, str], new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    assert made["merchant_id"].startswith("MER_")
    assert made["client_id"].startswith("ci_")
    assert made["client_secret"].startswith("sk_test_")
    assert len(made["client_secret"]) >= len("sk_test_") + 43  # 32 random bytes, base64url

    with psycopg.connect(database_url(gateway)) as conn:
        rows = conn.execute(
            "SELECT prefix, secret_sha256 FROM api_keys WHERE merchant_id = %s",
            (made["merchant_id"],),
        ).fetchall()
        dump = " ".join(str(row) for row in conn.execute("SELECT * FROM api_keys").fetchall())
    assert [bytes(r[1]) for r in rows] == [hashlib.sha256(made["client_secret"].encode()).digest()]
    assert made["client_secret"] not in dump

    listed = client.get(f"/v1/admin/merchants/{made['merchant_id']}/keys", headers=admin)
    assert listed.status_code == 200
    (key,) = listed.get_json()["data"]
    assert key["key_id"] == made["key_id"]
    assert key["status"] == "active"
    assert key["prefix"] == made["client_secret"][:14]
    assert made["client_secret"] not in listed.get_data(as_text=True)


def test_merchants_are_listed_with_a_cursor(
    client: FlaskClient, admin: dict[str, str], new_merchant: NewMerchant
) -> None:
    made = {new_merchant()["merchant_id"] for _ in range(3)}
    first = client.get("/v1/admin/merchants?limit=2", headers=admin).get_json()
    second = client.get(
        f"/v1/admin/merchants?limit=2&cursor={first['next_cursor']}", headers=admin
    ).get_json()
    seen = {m["merchant_id"] for m in first["data"] + second["data"]}
    assert seen == made
    assert second["next_cursor"] is None
    assert "client_secret" not in str(first)


def test_a_token_by_json_says_who_the_merchant_is_and_is_signed_by_a_published_key(
    client: FlaskClient, new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    answer = client.post(
        "/v1/auth/token",
        json={"client_id": made["client_id"], "client_secret": made["client_secret"]},
    )
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    header = pyjwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    jwks = client.get("/.well-known/jwks.json")
    assert "max-age=" in jwks.headers["Cache-Control"]
    keys = {k["kid"]: k for k in jwks.get_json()["keys"]}
    public = pyjwt.PyJWK(keys[header["kid"]]).key
    claims = pyjwt.decode(
        body["access_token"], public, algorithms=["RS256"], audience="payments-api"
    )
    assert claims["iss"] == "payments-gateway"
    assert claims["sub"] == made["merchant_id"]
    assert claims["scope"] == "payments:read payments:write"
    assert claims["exp"] - claims["iat"] == 300


def test_the_oauth_form_with_credentials_in_the_form_or_in_basic(
    client: FlaskClient, new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    in_form = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    basic = base64.b64encode(f"{made['client_id']}:{made['client_secret']}".encode()).decode()
    in_basic = client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert in_form.status_code == 200, in_form.get_json()
    assert in_basic.status_code == 200, in_basic.get_json()


def test_only_the_client_credentials_grant_is_supported(
    client: FlaskClient, new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    answer = client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "client_id": made["client_id"], "client_secret": "x"},
    )
    assert answer.status_code == 400
    assert answer.get_json()["code"] == "unsupported_grant_type"
    assert answer.get_json()["error"] == "unsupported_grant_type"


def test_wrong_secret_unknown_client_and_revoked_key_get_the_same_401(
    client: FlaskClient, admin: dict[str, str], new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    revoked = new_merchant()
    done = client.post(
        f"/v1/admin/merchants/{revoked['merchant_id']}/keys/{revoked['key_id']}/revoke",
        headers=admin,
    )
    assert done.status_code == 200
    assert done.get_json()["status"] == "revoked"
    attempts = [
        {"client_id": made["client_id"], "client_secret": made["client_secret"] + "x"},
        {"client_id": "ci_nobody000000000000000", "client_secret": made["client_secret"]},
        {"client_id": revoked["client_id"], "client_secret": revoked["client_secret"]},
    ]
    answers = [client.post("/v1/auth/token", json=attempt) for attempt in attempts]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.get_data() for a in answers}) == 1
    assert answers[0].get_json()["code"] == "invalid_client"


def test_a_second_key_rotates_a_secret_and_the_first_can_then_be_revoked(
    client: FlaskClient,
    admin: dict[str, str],
    new_merchant: NewMerchant,
    token_for: Callable[[dict[str, Any]], str],
) -> None:
    made = new_merchant()
    second = client.post(f"/v1/admin/merchants/{made['merchant_id']}/keys", headers=admin)
    assert second.status_code == 201
    rotated = second.get_json()
    assert rotated["client_id"] == made["client_id"]
    assert rotated["client_secret"] != made["client_secret"]
    token_for(made)
    token_for(rotated)
    client.post(
        f"/v1/admin/merchants/{made['merchant_id']}/keys/{made['key_id']}/revoke", headers=admin
    )
    assert token_for(rotated)
    refused = client.post(
        "/v1/auth/token",
        json={"client_id": made["client_id"], "client_secret": made["client_secret"]},
    )
    assert refused.status_code == 401
    keys = client.get(f"/v1/admin/merchants/{made['merchant_id']}/keys", headers=admin)
    by_id = {k["key_id"]: k for k in keys.get_json()["data"]}
    assert by_id[made["key_id"]]["status"] == "revoked"
    assert by_id[rotated["key_id"]]["last_used_at"] is not None


def test_another_merchants_id_is_404_on_the_admin_routes(
    client: FlaskClient, admin: dict[str, str], new_merchant: NewMerchant
) -> None:
    made = new_merchant()
    other = new_merchant()
    missing = client.post(
        f"/v1/admin/merchants/{other['merchant_id']}/keys/{made['key_id']}/revoke", headers=admin
    )
    assert missing.status_code == 404
    assert client.get("/v1/admin/merchants/MER_nobody00/keys", headers=admin).status_code == 404


def test_the_admin_routes_need_an_operators_token_with_the_gateway_scope(
    client: FlaskClient,
    operator: Callable[..., dict[str, str]],
    new_merchant: NewMerchant,
    token_for: Callable[[dict[str, Any]], str],
) -> None:
    merchant_token = token_for(new_merchant())
    assert client.get("/v1/admin/merchants").status_code == 401
    as_merchant = client.get(
        "/v1/admin/merchants", headers={"Authorization": f"Bearer {merchant_token}"}
    )
    assert as_merchant.status_code == 401
    assert as_merchant.get_json()["reason"] == "invalid_audience"
    wrong_scope = client.get(
        "/v1/admin/merchants",
        headers=operator(scopes=("ledger:admin",)),
    )
    assert wrong_scope.status_code == 403


def test_the_deployments_key_is_imported_once(
    make_gateway: Callable[..., Flask], first_key: SigningKey
) -> None:
    gateway = make_gateway()
    service = gateway.extensions["gateway_service"]
    import_initial_key(service.settings, service.signing_keys)
    kids = [key.kid for key in service.signing_keys.all()]
    assert kids == [first_key.kid]
    with psycopg.connect(database_url(gateway)) as conn:
        (sealed,) = conn.execute("SELECT encrypted_private_key FROM signing_keys").fetchone() or ()
    assert b"PRIVATE KEY" not in bytes(sealed)  # sealed at rest
    assert service.signing_keys.current().kid == first_key.kid

"""The merchants' endpoints API: registration, what it refuses, secrets, isolation, rotation."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from webhook_service.adapters.secret_sealing import AES_GCM
from webhook_service.outbound_settings import OutboundTrust

pytestmark = pytest.mark.integration

LOCAL = OutboundTrust((ipaddress.ip_network("127.0.0.1/32"),), secrets_key=b"k" * 32)
Clients = Callable[[Flask, str], FlaskClient]
TYPES = ["payment.succeeded", "refund.failed"]


@pytest.fixture
def local_app(make_app: Callable[..., Flask]) -> Flask:
    """Endpoints may point at 127.0.0.1 here, as the local cluster's test receiver does."""
    return make_app(outbound=LOCAL)


def _register(client: FlaskClient, url: str, **fields: Any) -> Any:
    return client.post("/webhook_endpoints", json={"url": url, "event_types": TYPES, **fields})


def test_a_registered_endpoint_shows_its_secret_once_and_stores_it_sealed(
    local_app: Flask, merchant_client: Clients, unique: str, webhook_database: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")

    created = _register(client, "http://127.0.0.1:9/hooks", description="orders")

    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = created.json
    assert body["secret"].startswith("whsec_")
    assert (body["event_types"], body["enabled"], body["description"]) == (
        sorted(TYPES),
        True,
        "orders",
    )
    shown = client.get(f"/webhook_endpoints/{body['id']}").json
    assert "secret" not in shown and body["secret"] not in str(shown)
    assert [s["expires_at"] for s in shown["secrets"]] == [None]
    with psycopg.connect(webhook_database) as conn:
        sealing, sealed = conn.execute(
            "SELECT sealing, sealed FROM webhook_endpoint_secrets WHERE endpoint_id = %s",
            (body["id"],),
        ).fetchone() or (None, None)
    assert sealing == AES_GCM
    assert body["secret"].encode() not in bytes(sealed)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.20.30.40/hooks",
        "http://192.168.0.10/hooks",
        "http://[::1]:8080/hooks",
        "http://localhost:8080/hooks",
    ],
)
def test_loopback_private_link_local_and_metadata_targets_are_refused_without_the_allowlist(
    app: Flask, merchant_client: Clients, unique: str, url: str
) -> None:
    response = _register(merchant_client(app, f"MER_{unique}"), url)

    assert response.status_code == 422
    assert response.json["code"] == "target_not_allowed"
    assert "url" in response.json["errors"]


def test_the_allowlist_lets_exactly_its_networks_through(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")

    assert _register(client, "http://127.0.0.1:8080/hooks").status_code == 201
    assert _register(client, "http://127.0.0.2:8080/hooks").json["code"] == "target_not_allowed"
    assert _register(client, "http://169.254.169.254/").json["code"] == "target_not_allowed"


def test_bad_urls_and_unknown_event_types_are_refused(
    app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(app, f"MER_{unique}")

    assert _register(client, "ftp://example.com/x").json["code"] == "invalid_url"
    assert _register(client, "https://u:p@example.com/x").json["code"] == "invalid_url"
    unknown = client.post(
        "/webhook_endpoints",
        json={"url": "https://example.com/x", "event_types": ["payment.created"]},
    )
    assert (unknown.status_code, unknown.json["code"]) == (422, "validation_failed")
    assert "event_types" in unknown.json["errors"]


def test_another_merchants_endpoint_is_not_found_whatever_is_asked(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    alice = merchant_client(local_app, f"MER_a_{unique}")
    bob = merchant_client(local_app, f"MER_b_{unique}")
    endpoint = _register(alice, "http://127.0.0.1:9/hooks").json["id"]
    path = f"/webhook_endpoints/{endpoint}"

    answers = [
        bob.get(path),
        bob.post(path, json={"enabled": False}),
        bob.delete(path),
        bob.post(f"{path}/rotate_secret", json={}),
        bob.post(f"{path}/redeliveries", json={"since": "2026-01-01T00:00:00Z"}),
        bob.get(f"{path}/messages"),
        bob.get(f"{path}/attempts"),
    ]

    assert [(a.status_code, a.json["code"]) for a in answers] == [
        (404, "webhook_endpoint_not_found")
    ] * len(answers)
    assert bob.get("/webhook_endpoints").json["data"] == []
    assert alice.get(path).json["enabled"] is True
    assert [e["id"] for e in alice.get("/webhook_endpoints").json["data"]] == [endpoint]


def test_the_endpoints_api_needs_the_merchants_own_token(
    local_app: Flask, issue_token: Callable[..., str]
) -> None:
    anonymous = local_app.test_client().get("/webhook_endpoints")
    operator = local_app.test_client().get(
        "/webhook_endpoints", headers={"Authorization": f"Bearer {issue_token()}"}
    )
    read_only = issue_token(audience="payments-api", subject="MER_r", scopes=("payments:read",))
    write = local_app.test_client().post(
        "/webhook_endpoints",
        json={"url": "http://127.0.0.1:9/", "event_types": TYPES},
        headers={"Authorization": f"Bearer {read_only}"},
    )

    assert (anonymous.status_code, anonymous.json["reason"]) == (401, "missing_token")
    assert (operator.status_code, operator.json["reason"]) == (401, "invalid_audience")
    assert (write.status_code, write.json["code"]) == (403, "insufficient_scope")


def test_a_rotation_keeps_the_old_secret_in_force_for_the_overlap_only(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")
    endpoint = _register(client, "http://127.0.0.1:9/hooks").json["id"]
    path = f"/webhook_endpoints/{endpoint}"

    rotated = client.post(f"{path}/rotate_secret", json={"overlap_seconds": 3600})
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    in_force = client.get(path).json["secrets"]
    assert [s["expires_at"] is None for s in in_force] == [True, False]
    assert in_force[1]["expires_at"] == rotated.json["previous_secret_expires_at"]

    client.post(f"{path}/rotate_secret", json={"overlap_seconds": 0})
    current, *overlapping = client.get(path).json["secrets"]
    assert current["expires_at"] is None
    assert len(overlapping) == 1  # the first is still in its hour; the second expired now
    too_long = client.post(f"{path}/rotate_secret", json={"overlap_seconds": 8 * 86400})
    assert too_long.status_code == 422


def test_an_endpoint_is_changed_disabled_by_its_merchant_and_deleted(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")
    endpoint = _register(client, "http://127.0.0.1:9/hooks").json["id"]
    path = f"/webhook_endpoints/{endpoint}"

    changed = client.post(path, json={"event_types": ["settlement.batch_paid"], "enabled": False})
    assert changed.status_code == 200
    assert (changed.json["event_types"], changed.json["enabled"]) == (
        ["settlement.batch_paid"],
        False,
    )
    assert changed.json["disabled_reason"] == "disabled_by_merchant"
    assert client.post(path, json={"url": "http://10.0.0.1/"}).json["code"] == (
        "target_not_allowed"
    )
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_a_change_sent_again_answers_the_same_endpoint_and_changes_nothing(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    """A merchant retrying a change whose answer it lost gets the same answer (``updated_at``
    included): a change that changes nothing is not a change."""
    client = merchant_client(local_app, f"MER_{unique}")
    path = f"/webhook_endpoints/{_register(client, 'http://127.0.0.1:9/hooks').json['id']}"
    change = {"description": "shop", "event_types": ["payment.succeeded"], "enabled": False}

    first, again = client.post(path, json=change), client.post(path, json=change)
    nothing = client.post(path, json={})

    assert first.status_code == again.status_code == nothing.status_code == 200
    assert again.json == first.json == nothing.json
    assert first.json["description"] == "shop"
    assert (
        client.post(path, json={"description": "other"}).json["updated_at"]
        != (first.json["updated_at"])
    )


def test_a_repeated_registration_with_its_idempotency_key_answers_the_first_secret_included(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": TYPES}
    key = {"Idempotency-Key": f"create-{unique}"}

    first = client.post("/webhook_endpoints", json=body, headers=key)
    again = client.post("/webhook_endpoints", json=body, headers=key)
    other = client.post("/webhook_endpoints", json={**body, "description": "x"}, headers=key)

    assert (first.status_code, first.headers["Idempotent-Replayed"]) == (201, "false")
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert (again.json["id"], again.json["secret"]) == (first.json["id"], first.json["secret"])
    assert (other.status_code, other.json["code"]) == (422, "idempotency_key_reused")
    assert [e["id"] for e in client.get("/webhook_endpoints").json["data"]] == [first.json["id"]]


def test_concurrent_registrations_with_one_key_make_one_endpoint(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": TYPES}
    key = {"Idempotency-Key": f"race-{unique}"}

    def register(_: int) -> tuple[str, str]:
        answer = merchant_client(local_app, f"MER_{unique}").post(
            "/webhook_endpoints", json=body, headers=key
        )
        return answer.json["id"], answer.json["secret"]

    with ThreadPoolExecutor(8) as pool:
        answers = set(pool.map(register, range(16)))

    assert len(answers) == 1
    listed = merchant_client(local_app, f"MER_{unique}").get("/webhook_endpoints").json["data"]
    assert [e["id"] for e in listed] == [answers.pop()[0]]


def test_a_repeated_rotation_with_its_key_answers_the_same_new_secret(
    local_app: Flask, merchant_client: Clients, unique: str
) -> None:
    client = merchant_client(local_app, f"MER_{unique}")
    path = f"/webhook_endpoints/{_register(client, 'http://127.0.0.1:9/').json['id']}"
    key = {"Idempotency-Key": f"rotate-{unique}"}

    first = client.post(f"{path}/rotate_secret", json={}, headers=key)
    again = client.post(f"{path}/rotate_secret", json={}, headers=key)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert len(client.get(path).json["secrets"]) == 2  # rotated once, not twice

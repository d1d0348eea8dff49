"""Fixtures for the webhook service's tests: settings, an app on the test cluster, a PSP stand-in.

Test modules cannot import each other here (no packages, importlib mode), so shared helpers are
handed out by fixtures.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg.rows import dict_row
from werkzeug.test import TestResponse

from localcluster.testing import ClusterEnv
from paykit.auth.audiences import ADMIN_AUDIENCE, WEBHOOKS_ADMIN_SCOPE
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys
from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.settings import Secret
from webhook_service.domain.rate_limits import RateLimit
from webhook_service.entrypoints.app import create_app
from webhook_service.entrypoints.app_context import service_of
from webhook_service.settings import WebhookSettings
from webhook_service.testing import Receiver

# Secrets must be at least 32 bytes (see webhook_service.settings).
CURRENT_SECRET = "whsec_test_current_0123456789abcdef"
NEXT_SECRET = "whsec_test_next_0123456789abcdef"
RETIRED_SECRET = "whsec_test_retired_0123456789abcdef"
ADMIN_ISSUER = "payments-gateway-test"


@pytest.fixture(scope="session")
def admin_signing_key() -> SigningKey:
    return generate_signing_key("webhook-test-1")


@pytest.fixture(scope="session")
def jwks_path(tmp_path_factory: pytest.TempPathFactory, admin_signing_key: SigningKey) -> Path:
    path = tmp_path_factory.mktemp("auth") / "jwks.json"
    path.write_text(json.dumps(jwks_document(public_keys([admin_signing_key]))))
    return path


@pytest.fixture
def issue_token(admin_signing_key: SigningKey) -> Callable[..., str]:
    def issue(
        *,
        scopes: tuple[str, ...] = (WEBHOOKS_ADMIN_SCOPE,),
        subject: str = "ops-alice",
        audience: str = ADMIN_AUDIENCE,
    ) -> str:
        return admin_signing_key.issue(
            issuer=ADMIN_ISSUER,
            audience=audience,
            subject=subject,
            ttl=timedelta(minutes=5),
            scopes=scopes,
        )

    return issue


@pytest.fixture
def settings(cluster: ClusterEnv, jwks_path: Path, webhook_database: str) -> WebhookSettings:
    """Real database and Redis of the test cluster; our own secrets, so rotation can be shown.

    Every test client posts from 127.0.0.1, so the limit on unauthenticated requests is set
    out of reach here; the tests of the limit use a low one and addresses of their own.
    """
    return WebhookSettings(
        database_url=Secret(webhook_database),
        psp_webhook_secrets=(Secret(CURRENT_SECRET), Secret(NEXT_SECRET)),
        auth_issuer=ADMIN_ISSUER,
        auth_jwks_path=jwks_path,
        redis_url=Secret(cluster.redis_url),
        db_pool_size=25,
        unauthenticated_limit=RateLimit(per_minute=60_000, burst=10_000),
    )


@pytest.fixture
def make_app(settings: WebhookSettings) -> Iterator[Callable[..., Flask]]:
    """Apps on the test cluster, optionally with some settings changed; all closed afterwards."""
    apps: list[Flask] = []

    def make(**changes: Any) -> Flask:
        app = create_app(replace(settings, **changes))
        apps.append(app)
        return app

    yield make
    for app in apps:
        service_of(app).close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@dataclass
class Psp:
    """Signs and posts webhooks the way the PSP does."""

    client: FlaskClient

    def post(
        self,
        body: Mapping[str, Any] | bytes,
        *,
        secret: str = CURRENT_SECRET,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
        source: str = "127.0.0.1",
        path: str = "/webhooks/psp",
    ) -> TestResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signed_at = int(time.time()) if timestamp is None else timestamp
        return self.client.post(
            path,
            data=raw,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature or sign(raw, secret, signed_at),
                **(headers or {}),
            },
            environ_overrides={"REMOTE_ADDR": source},
        )


@pytest.fixture
def psp_for() -> Callable[[Flask], Psp]:
    """A PSP stand-in posting to an app of the test's own making."""

    def psp(app: Flask) -> Psp:
        return Psp(app.test_client())

    return psp


@pytest.fixture
def psp(app: Flask, psp_for: Callable[[Flask], Psp]) -> Psp:
    return psp_for(app)


@pytest.fixture
def admin(app: Flask, issue_token: Callable[..., str]) -> FlaskClient:
    """The admin API, with a valid admin token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token()}"
    return client


@pytest.fixture
def source_address() -> str:
    """An address of this test's own, so its requests count against no one else's limit."""
    return str(ipaddress.IPv4Address(0x0A000000 | random.getrandbits(24)))  # 10.x.y.z


@pytest.fixture
def payment_body(unique: str) -> Callable[..., dict[str, Any]]:
    """A PSP payment.status body for a payment of this test, with overrides."""

    def body(**changes: Any) -> dict[str, Any]:
        gateway = {
            "amount": 3000,
            "currency": "EUR",
            "chargeId": f"ch_{unique}",
            "failureCode": None,
        }
        gateway.update(changes.pop("gatewayData", {}))
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.status",
            "paymentRef": f"PAY_{unique}",
            "status": "SUCCESS",
            "gatewayData": gateway,
            **changes,
        }

    return body


PAYOUT_WEBHOOKS = "/webhooks/psp/payouts"


@pytest.fixture
def payout_body(unique: str) -> Callable[..., dict[str, Any]]:
    """The bank's payout webhook body for a batch of this test, with overrides."""

    def body(**changes: Any) -> dict[str, Any]:
        return {
            "type": "payout.paid",
            "payout_id": f"po_{unique}",
            "batch_id": f"BAT_{unique}",
            "attempt": 1,
            "merchant_id": "MER_1",
            "amount": 98_350,
            "currency": "EUR",
            "failure_code": None,
            "failure_message": None,
            "occurred_at": "2026-03-14T06:00:00.500000Z",
            **changes,
        }

    return body


@dataclass
class WebhookDatabase:
    """Reads the service's tables directly, to show what a request did and did not store."""

    url: str

    def deliveries(self, payment_id: str | None = None, **where: Any) -> list[dict[str, Any]]:
        conditions = dict(where)
        if payment_id is not None:
            conditions["payment_id"] = payment_id
        clause = " AND ".join(f"{column} = %({column})s" for column in conditions) or "TRUE"
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                f"SELECT * FROM webhook_deliveries WHERE {clause} ORDER BY seq", conditions
            ).fetchall()

    def from_source(self, address: str) -> list[dict[str, Any]]:
        return self.deliveries(source_address=address)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        (row,) = self.deliveries(id=delivery_id)
        return row

    def outbox(self, payment_id: str) -> list[dict[str, Any]]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT * FROM outbox WHERE key = %s ORDER BY id", (payment_id.encode(),)
            ).fetchall()


@pytest.fixture
def webhook_db(webhook_database: str) -> WebhookDatabase:
    return WebhookDatabase(webhook_database)


@pytest.fixture(scope="session")
def webhook_database(isolated_database: Callable[[str], str]) -> str:
    """A private copy of the webhook database: the cluster's own relay never touches it."""
    return isolated_database("webhook")


@pytest.fixture
def receiver() -> Iterator[Callable[[], Receiver]]:
    """Receivers of the test's own making, all closed afterwards."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for each in made:
        each.down()


MERCHANT_SCOPES = ("payments:read", "payments:write")


@pytest.fixture
def merchant_client(issue_token: Callable[..., str]) -> Callable[[Flask, str], FlaskClient]:
    """An app's test client carrying a merchant's own payment-API token."""

    def client(app: Flask, merchant_id: str) -> FlaskClient:
        token = issue_token(audience="payments-api", subject=merchant_id, scopes=MERCHANT_SCOPES)
        made = app.test_client()
        made.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return made

    return client

"""A gateway on a database of its own, with the cluster's Redis and a first key imported.

The first key is generated here and handed over the way the local cluster hands over its dev
key (``AUTH_SIGNING_KEY_PATH``/``AUTH_SIGNING_KEY_ID``); operators' tokens are signed with it.
The edge's upstreams point at a closed port: a request that got past the edge's token check
would answer 502, so a 401 proves the gateway refused it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from gateway_service.adapters.key_encryption import generate_key_encryption_key
from gateway_service.edge_settings import EdgeSettings
from gateway_service.entrypoints.app import create_app
from gateway_service.settings import GatewaySettings
from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from paykit.auth.audiences import ADMIN_AUDIENCE, GATEWAY_ADMIN_SCOPE
from paykit.auth.jwt import SigningKey, generate_signing_key
from paykit.settings import Secret
from paykit.testing import scratch_database

FIRST_KID = "first-test-key"
ISSUER = "payments-gateway"
CLOSED = "http://127.0.0.1:9"
EDGE = EdgeSettings(
    payment_url=CLOSED, ledger_url=CLOSED, settlement_url=CLOSED, webhook_url=CLOSED
)


@pytest.fixture(scope="session")
def first_key() -> SigningKey:
    return generate_signing_key(FIRST_KID)


@pytest.fixture(scope="session")
def first_key_pem(first_key: SigningKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "jwt-signing.pem"
    path.write_bytes(first_key.private_key_pem())
    return path


def gateway_settings(
    database_url: str, redis_url: str, pem: Path, **overrides: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": Secret(database_url),
        "key_encryption_key": Secret(generate_key_encryption_key()),
        "redis_url": redis_url,
        "initial_signing_key_path": pem,
        "initial_signing_key_id": FIRST_KID,
        "token_ttl": timedelta(minutes=5),
        "json_logs": False,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def make_gateway(cluster: ClusterEnv, first_key_pem: Path) -> Iterator[Callable[..., Flask]]:
    """Gateways on fresh databases (a test that rotates keys owns its key history)."""
    sources = migration_sources("gateway")
    assert sources is not None
    with ExitStack() as stack:

        def build(**overrides: Any) -> Flask:
            url = stack.enter_context(
                scratch_database(cluster.admin_url, sources, prefix="gateway_tests")
            )
            config = gateway_settings(url, cluster.redis_url, first_key_pem, **overrides)
            app = create_app(config, edge=EDGE)
            stack.callback(app.extensions["gateway_service"].close)
            return app

        yield build


@pytest.fixture
def gateway(make_gateway: Callable[..., Flask]) -> Flask:
    return make_gateway()


@pytest.fixture
def client(gateway: Flask) -> FlaskClient:
    return gateway.test_client()


def operator_token(key: SigningKey, *, scopes: tuple[str, ...] = (GATEWAY_ADMIN_SCOPE,)) -> str:
    return key.issue(
        issuer=ISSUER,
        audience=ADMIN_AUDIENCE,
        subject="ops_tests",
        ttl=timedelta(minutes=5),
        scopes=scopes,
    )


@pytest.fixture
def operator(first_key: SigningKey) -> Callable[..., dict[str, str]]:
    """An operator's Authorization header, with the scopes a test wants."""

    def headers(scopes: tuple[str, ...] = (GATEWAY_ADMIN_SCOPE,)) -> dict[str, str]:
        return {"Authorization": f"Bearer {operator_token(first_key, scopes=scopes)}"}

    return headers


@pytest.fixture
def admin(operator: Callable[..., dict[str, str]]) -> dict[str, str]:
    return operator()


@pytest.fixture
def new_merchant(client: FlaskClient, admin: dict[str, str]) -> Callable[[], dict[str, Any]]:
    def create() -> dict[str, Any]:
        made = client.post("/v1/admin/merchants", json={"name": "Tea Shop"}, headers=admin)
        assert made.status_code == 201, made.get_json()
        body: dict[str, Any] = made.get_json()
        return body

    return create


@pytest.fixture
def token_for(client: FlaskClient) -> Callable[[dict[str, Any]], str]:
    def token(credentials: dict[str, Any]) -> str:
        answer = client.post(
            "/v1/auth/token",
            json={
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
            },
        )
        assert answer.status_code == 200, answer.get_json()
        return str(answer.get_json()["access_token"])

    return token


class ServedApp:
    """A Flask app served over real HTTP on a free port, for clients outside the process."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._thread.join(10)


@pytest.fixture
def serve() -> type[ServedApp]:
    """``with serve(app) as served:`` the app answers at ``served.url``."""
    return ServedApp

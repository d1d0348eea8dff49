"""A gateway edge in front of small, real upstream Flask apps that record what reached them.

The upstreams are reached through werkzeug's test client (``WsgiUpstreams``: the real Flask
request handling, no sockets); Redis is the cluster's own. Each test's merchant id is unique, so
rate-limit buckets never carry over between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask, Response, jsonify, request
from werkzeug.test import Client

from gateway_service.adapters import upstream_http
from gateway_service.adapters.ratelimit import MerchantRateLimits
from gateway_service.adapters.upstream_http import UpstreamAnswer
from gateway_service.edge_settings import EdgeSettings
from gateway_service.entrypoints.docs import docs_blueprint
from gateway_service.entrypoints.proxy import proxy_blueprint
from localcluster.testing import ClusterEnv
from paykit.auth.audiences import PAYMENTS_API_AUDIENCE
from paykit.auth.jwt import SigningKey, Verifier, generate_signing_key, public_keys
from paykit.ratelimit import RateLimit
from paykit.web import create_flask_app
from paykit.web_auth import BearerAuth

ISSUER = "gateway-edge-tests"
SETTINGS = EdgeSettings(
    payment_url="http://payment.test",
    ledger_url="http://ledger.test",
    settlement_url="http://settlement.test",
    webhook_url="http://webhook.test",
    max_body_bytes=4096,
    write_limit=RateLimit(per_minute=60, burst=5),
    read_limit=RateLimit(per_minute=600, burst=20),
)


@dataclass
class Seen:
    method: str
    host: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstreams:
    """Every request the services received; ``answer`` decides what they say back."""

    seen: list[Seen] = field(default_factory=list)
    answer: Callable[[], Response] | None = None

    def app(self) -> Flask:
        app = Flask("upstream")

        @app.route("/<path:path>", methods=["GET", "POST", "DELETE"])
        def anything(path: str) -> Response:
            self.seen.append(
                Seen(
                    request.method,
                    request.host,
                    request.path,
                    request.query_string.decode(),
                    {k.lower(): v for k, v in request.headers.items()},
                    request.get_data(),
                )
            )
            if self.answer is not None:
                return self.answer()
            return jsonify({"id": "PAY_1", "path": request.path})

        return app


class WsgiUpstreams:
    """The services as the edge's ``Upstreams`` sees them, answered by a Flask app in-process."""

    def __init__(self, app: Flask) -> None:
        self._client = Client(app)

    def send(
        self,
        method: str,
        url: str,
        *,
        query: str,
        body: bytes | None,
        headers: Sequence[tuple[str, str]],
    ) -> UpstreamAnswer:
        parts = urlsplit(url)
        answer = self._client.open(
            parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            method=method,
            query_string=query,
            data=body,
            headers=list(headers),
        )
        return UpstreamAnswer(answer.status_code, list(answer.headers.items()), answer.data)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return generate_signing_key("edge-test-key")


@pytest.fixture(scope="session")
def bearer_auth(signing_key: SigningKey) -> BearerAuth:
    verifier = Verifier(
        issuer=ISSUER, audience=PAYMENTS_API_AUDIENCE, keys=public_keys([signing_key])
    )
    return BearerAuth(verifier, realm="payments")


@pytest.fixture
def merchant() -> str:
    return f"MER_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def token(signing_key: SigningKey, merchant: str) -> str:
    return signing_key.issue(
        issuer=ISSUER,
        audience=PAYMENTS_API_AUDIENCE,
        subject=merchant,
        ttl=timedelta(minutes=5),
        scopes=["payments:read", "payments:write"],
    )


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams()


@pytest.fixture(scope="session")
def redis_url() -> str:
    env = ClusterEnv.from_environ()
    if env is None:
        pytest.fail("the edge tests need Redis: run them against a cluster (see the README)")
    return env.redis_url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    yield client
    client.close()


GatewayFactory = Callable[..., Flask]


@pytest.fixture
def make_gateway(
    bearer_auth: BearerAuth, upstreams: Upstreams, redis_client: redis.Redis
) -> Iterator[GatewayFactory]:
    """A gateway app; tests may give other settings, an upstream client or a Redis client."""
    clients: list[upstream_http.Upstreams] = []

    def make(
        settings: EdgeSettings = SETTINGS,
        *,
        http: upstream_http.Upstreams | None = None,
        redis_for_limits: redis.Redis | None = None,
        **changes: Any,
    ) -> Flask:
        settings = replace(settings, **changes)
        if http is None:
            http = WsgiUpstreams(upstreams.app())
        clients.append(http)
        app = create_flask_app("gateway")
        limits = MerchantRateLimits.from_settings(settings, redis_for_limits or redis_client)
        app.register_blueprint(
            proxy_blueprint(settings, auth=bearer_auth, http=http, rate_limits=limits)
        )
        app.register_blueprint(docs_blueprint())
        return app

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def authorised(token: str) -> dict[str, str]:
    """The headers of a merchant's request with a valid token."""
    return {"Authorization": f"Bearer {token}"}

"""Key sets that follow the gateway's JWKS: a rotated key trusted without a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys
from paykit.auth.key_sets import RefreshingKeySet, jwks_loader
from paykit.problems import Problem
from paykit.settings import ConfigError
from paykit.testing import wait_until
from paykit.web_auth import load_bearer_auth

ISSUER = "payments-gateway"
AUDIENCE = "payments-api"


@pytest.fixture(scope="module")
def old_key() -> SigningKey:
    return generate_signing_key("gw-old")


@pytest.fixture(scope="module")
def new_key() -> SigningKey:
    return generate_signing_key("gw-new")


class JwksServer:
    """The gateway's /.well-known/jwks.json, served on a free port, with keys a test changes."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.failing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if owner.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def publish(self, *keys: SigningKey) -> None:
        self.document = jwks_document(public_keys(keys))

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


def token(key: SigningKey) -> str:
    return key.issue(
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="MER_a",
        ttl=timedelta(minutes=5),
        scopes=("payments:read",),
    )


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps(jwks_document(public_keys(keys))))
    return path


def status_of(auth: Any, bearer: str) -> int | str:
    try:
        auth.authorise(f"Bearer {bearer}", "payments:read")
    except Problem as problem:
        return str(problem.extra.get("reason", problem.status))
    return 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_kid_is_trusted_without_a_restart(
    jwks_server: JwksServer, old_key: SigningKey, new_key: SigningKey, tmp_path: Path
) -> None:
    jwks_server.publish(old_key)
    auth = load_bearer_auth(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_path=tmp_path / "absent.json",
        realm="t",
        jwks_url=jwks_server.url,
    )
    assert status_of(auth, token(old_key)) == 200
    assert status_of(auth, token(new_key)) == "unknown_key"

    jwks_server.publish(old_key, new_key)  # the gateway rotated
    fetched = jwks_server.requests
    # the first miss after rotation may fall inside the refresh interval of the miss above
    assert wait_until_ok(auth, token(new_key))
    assert jwks_server.requests > fetched
    assert status_of(auth, token(old_key)) == 200


def wait_until_ok(auth: Any, bearer: str) -> bool:
    return wait_until(lambda: status_of(auth, bearer) == 200, timeout=15, interval=0.5)


def test_unknown_kids_fetch_at_most_once_per_interval(
    old_key: SigningKey, new_key: SigningKey
) -> None:
    clock, loads = Clock(), []

    def load() -> dict[str, RSAPublicKey]:
        loads.append(clock.now)
        return public_keys([old_key])

    keys = RefreshingKeySet(load, ttl=300, min_refresh_interval=5, clock=clock)
    for _ in range(50):
        assert keys.key("invented") is None
    assert len(loads) == 1  # the load at start; every miss fell inside the interval
    clock.now += 5
    assert keys.key("invented") is None
    assert keys.key("invented-again") is None
    assert len(loads) == 2


def test_the_keys_are_reloaded_on_their_ttl(old_key: SigningKey, new_key: SigningKey) -> None:
    clock, published = Clock(), [old_key]
    keys = RefreshingKeySet(
        lambda: public_keys(published), ttl=60, min_refresh_interval=5, clock=clock
    )
    published = [new_key]  # the old key retired at the gateway
    clock.now += 30
    assert keys.key("gw-old") is not None
    clock.now += 30
    assert keys.key("gw-old") is None
    assert keys.key("gw-new") is not None


def test_a_failed_refresh_keeps_the_keys_already_trusted(
    jwks_server: JwksServer, old_key: SigningKey
) -> None:
    jwks_server.publish(old_key)
    clock = Clock()
    keys = RefreshingKeySet(jwks_loader(jwks_server.url), ttl=60, clock=clock)
    jwks_server.failing = True
    clock.now += 120
    assert keys.key("gw-old") is not None
    assert jwks_server.requests == 2


def test_a_service_started_before_the_gateway_trusts_its_file_then_the_gateway(
    old_key: SigningKey, new_key: SigningKey, tmp_path: Path
) -> None:
    file = write_jwks(tmp_path / "jwks.json", old_key)
    with JwksServer() as server:
        server.failing = True  # the gateway is still starting
        auth = load_bearer_auth(
            issuer=ISSUER, audience=AUDIENCE, jwks_path=file, realm="t", jwks_url=server.url
        )
        assert status_of(auth, token(old_key)) == 200
        server.failing = False
        server.publish(old_key, new_key)
        assert wait_until_ok(auth, token(new_key))


def test_the_url_comes_from_the_environment_only_with_the_configured_file(
    jwks_server: JwksServer, old_key: SigningKey, new_key: SigningKey, tmp_path: Path
) -> None:
    jwks_server.publish(new_key)
    own_file = write_jwks(tmp_path / "own.json", old_key)
    configured = write_jwks(tmp_path / "configured.json", old_key)
    environ = {"AUTH_JWKS_URL": jwks_server.url, "AUTH_JWKS_PATH": str(configured)}

    service = load_bearer_auth(
        issuer=ISSUER, audience=AUDIENCE, jwks_path=configured, realm="t", environ=environ
    )
    tool = load_bearer_auth(
        issuer=ISSUER, audience=AUDIENCE, jwks_path=own_file, realm="t", environ=environ
    )
    assert status_of(service, token(new_key)) == 200
    assert status_of(tool, token(new_key)) == "unknown_key"
    assert status_of(tool, token(old_key)) == 200


def test_an_unreadable_file_without_a_url_still_stops_the_process(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AUTH_JWKS_PATH"):
        load_bearer_auth(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_path=tmp_path / "nope.json",
            realm="t",
            environ={},
        )


def test_a_url_that_is_not_http_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AUTH_JWKS_URL"):
        load_bearer_auth(
            issuer=ISSUER,
            audience=AUDIENCE,
            jwks_path=tmp_path / "nope.json",
            realm="t",
            jwks_url="file:///etc/passwd",
        )


def test_threads_share_one_refresh(old_key: SigningKey, new_key: SigningKey) -> None:
    clock, loads = Clock(), []
    release = threading.Event()

    def load() -> dict[str, RSAPublicKey]:
        loads.append(clock.now)
        if len(loads) == 1:
            return public_keys([old_key])
        release.wait(5)  # a slow gateway: the other threads queue behind this fetch
        return public_keys([old_key, new_key])

    keys = RefreshingKeySet(load, ttl=300, clock=clock)
    clock.now += 10
    found: list[bool] = []
    threads = [
        threading.Thread(target=lambda: found.append(keys.key("gw-new") is not None))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert found == [True] * 8
    assert len(loads) == 2  # the start, then one fetch for eight threads

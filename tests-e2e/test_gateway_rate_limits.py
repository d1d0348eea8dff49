"""A merchant's rate limit is one limit however many gateway processes serve it.

Two gateway processes of their own (gunicorn, one worker each, the cluster's database, Redis
and payment service), started with a small read limit, are asked in turn by one merchant. The
buckets live in Redis, so together they admit exactly the burst; a limiter kept in each
process's memory would admit the burst twice.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest

from paykit.auth.jwt import SigningKey
from paykit.testing import wait_until

pytestmark = pytest.mark.e2e

BURST = 3
REQUESTS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve_gateway(port: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        # One request in a minute after the burst: nothing refills while the test runs.
        "GATEWAY_READS_BURST": str(BURST),
        "GATEWAY_READS_PER_MINUTE": "1",
        "GATEWAY_RATE_LIMIT_WHEN_REDIS_DOWN": "closed",
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:gateway_service.entrypoints.gunicorn_config",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "--no-control-socket",
                "gateway_service.entrypoints.app:create_app()",
            ],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def two_gateways(tmp_path: Path) -> Iterator[list[httpx.Client]]:
    with ExitStack() as stack:
        clients = []
        for index in range(2):
            port = _free_port()
            process = _serve_gateway(port, tmp_path / f"gateway-{index}.log")
            stack.callback(process.wait, 20)
            stack.callback(process.terminate)
            client = stack.enter_context(
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15)
            )
            clients.append(client)
        for index, client in enumerate(clients):
            log = (tmp_path / f"gateway-{index}.log").read_text
            assert wait_until(partial(_ready, client), timeout=60), log()
        yield clients


def test_two_gateway_processes_admit_one_merchant_its_burst_once(
    two_gateways: list[httpx.Client],
) -> None:
    merchant = f"MER_rate_{os.urandom(6).hex()}"
    # The cluster's development key, which the gateway took as its first signing key.
    signing_key = SigningKey(
        Path(os.environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), os.environ["AUTH_SIGNING_KEY_ID"]
    )
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_AUDIENCE"],
        subject=merchant,
        ttl=timedelta(minutes=5),
        scopes=["payments:read"],
    )
    headers = {"Authorization": f"Bearer {token}"}

    answers = [two_gateways[n % 2].get("/v1/payments", headers=headers) for n in range(REQUESTS)]

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == REQUESTS - BURST, statuses
    admitted_by = {n % 2 for n, status in enumerate(statuses) if status == 200}
    assert admitted_by == {0, 1}, "each process must have served part of the burst"
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) > 0

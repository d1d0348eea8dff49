"""Black-box journeys against the running test cluster: public HTTP in, observable events out.

`make test` starts every Procfile process on the throwaway cluster; these tests talk to them
only through their HTTP APIs and the Kafka topics they publish.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope, decode
from paykit.auth.jwt import SigningKey
from paykit.testing import read_topic

E2E_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def signing_key(cluster: ClusterEnv) -> SigningKey:
    return SigningKey(
        Path(os.environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), os.environ["AUTH_SIGNING_KEY_ID"]
    )


@pytest.fixture
def merchant(unique: str) -> str:
    return f"MER_{unique}"


@pytest.fixture
def payments(signing_key: SigningKey, merchant: str) -> Iterator[httpx.Client]:
    """The payment API as the merchant sees it (through the gateway, once it exists)."""
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_AUDIENCE"],
        subject=merchant,
        ttl=timedelta(minutes=10),
        scopes=("payments:read", "payments:write"),
    )
    with httpx.Client(
        base_url=os.environ["PAYMENT_URL"], timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        _wait_ready(client)
        yield client


@pytest.fixture
def psp() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=os.environ["PSP_URL"], timeout=10) as client:
        _wait_ready(client)
        yield client


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + E2E_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{client.base_url} never became ready")


def _eventually(probe: Callable[[], Any], timeout: float = E2E_TIMEOUT) -> Any:
    """Polls ``probe`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f}s waiting for {probe.__name__}")
        time.sleep(0.2)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    return _eventually


@pytest.fixture
def create_payment(payments: httpx.Client) -> Callable[..., dict[str, Any]]:
    def create(payment_method: str = "pm_card_visa", amount: int = 3000) -> dict[str, Any]:
        response = payments.post(
            "/payments",
            json={"amount": amount, "currency": "EUR", "payment_method": payment_method},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


@pytest.fixture
def wait_for_status(payments: httpx.Client) -> Callable[[str, str], dict[str, Any]]:
    def wait(payment_id: str, status: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            payment: dict[str, Any] = payments.get(f"/payments/{payment_id}").json()
            return payment if payment["status"] == status else None

        reached.__name__ = f"{payment_id} to become {status}"
        result: dict[str, Any] = _eventually(reached)
        return result

    return wait


@pytest.fixture
def events_about(cluster: ClusterEnv) -> Callable[[str, str], list[Envelope]]:
    """Every event on ``topic`` keyed by ``subject`` (payment-keyed topics), in log order."""

    def collect(topic: str, subject: str) -> list[Envelope]:
        records = read_topic(cluster.bootstrap_servers, topic)
        return [decode(r.value) for r in records if r.key == subject.encode()]

    return collect

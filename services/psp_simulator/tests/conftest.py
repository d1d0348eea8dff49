"""Fixtures for the simulator's tests: a private key prefix per test on the cluster's real
Redis, the app, a local webhook receiver and senders running in threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from localcluster.testing import ClusterEnv
from paykit.settings import Secret
from psp_simulator.bootstrap import connect_redis
from psp_simulator.domain.delivery import RetryPolicy
from psp_simulator.domain.outcomes import Timings
from psp_simulator.settings import SenderSettings, SimulatorSettings
from psp_simulator.testing import (
    AppFactory,
    ChargeMaker,
    SenderRunner,
    WebhookReceiver,
    charge_body,
    process_environment,
    serving,
)

WEBHOOK_SECRET = "whsec_test_current_0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_test_previous_0123456789abcdef"
FAST_TIMINGS = Timings(
    outcome_delay=0.1, response_delay=2.0, slow_webhook_delay=1.0, late_webhook_delay=0.3
)
FAST_RETRY = RetryPolicy(base_seconds=0.1, cap_seconds=0.4, horizon_seconds=10.0, jitter=0.0)


@pytest.fixture(scope="session")
def redis_client(cluster: ClusterEnv) -> Iterator[redis.Redis]:
    client = connect_redis(cluster.redis_url)
    yield client
    client.close()


@pytest.fixture
def key_prefix(unique: str) -> str:
    return f"psp-test-{unique}"


@pytest.fixture
def settings(cluster: ClusterEnv, key_prefix: str) -> SimulatorSettings:
    return SimulatorSettings(
        redis_url=Secret(cluster.redis_url), key_prefix=key_prefix, timings=FAST_TIMINGS
    )


@pytest.fixture
def make_app(settings: SimulatorSettings, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(settings, redis_client)
    yield factory
    factory.stopping.set()  # wakes any answer still held back


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def served_app(app: Flask, make_app: AppFactory) -> Iterator[str]:
    """The app behind a real threaded HTTP server, for concurrency and client timeouts."""
    with serving(app) as url:
        yield url
        make_app.stopping.set()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    # Knows only the current secret: a webhook signed with any other one counts as forged.
    endpoint = WebhookReceiver([WEBHOOK_SECRET])
    with serving(endpoint) as url:
        endpoint.url = f"{url}/webhooks/psp"
        yield endpoint


@pytest.fixture
def sender_settings(
    cluster: ClusterEnv, key_prefix: str, receiver: WebhookReceiver
) -> SenderSettings:
    return SenderSettings(
        redis_url=Secret(cluster.redis_url),
        webhook_url=receiver.url,
        webhook_secrets=(Secret(WEBHOOK_SECRET), Secret(OLD_WEBHOOK_SECRET)),
        key_prefix=key_prefix,
        retry=FAST_RETRY,
        http_timeout_seconds=3.0,
        poll_interval_seconds=0.02,
    )


@pytest.fixture
def sender_environment(
    cluster: ClusterEnv, key_prefix: str, receiver: WebhookReceiver
) -> Callable[..., dict[str, str]]:
    """The environment of a sender process posting to the test's receiver, plus `variables`."""

    def environment(**variables: str) -> dict[str, str]:
        return process_environment(
            cluster.redis_url,
            key_prefix,
            PSP_WEBHOOK_URL=receiver.url,
            PSP_WEBHOOK_SECRETS=f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
            PSP_WEBHOOK_RETRY_BASE_SECONDS="0.1",
            **variables,
        )

    return environment


@pytest.fixture
def senders(sender_settings: SenderSettings, redis_client: redis.Redis) -> Iterator[SenderRunner]:
    runner = SenderRunner(sender_settings, redis_client)
    yield runner
    runner.stop()


@pytest.fixture
def make_charge(client: FlaskClient, unique: str) -> ChargeMaker:
    numbers = count()

    def make(payment_method: str = "pm_card_visa", amount: int = 3000) -> dict[str, Any]:
        n = next(numbers)
        response = client.post(
            "/charges",
            json=charge_body(f"PAY_{unique}_{n}", payment_method, amount),
            headers={"Idempotency-Key": f"PAYID-{unique}-{n}"},
        )
        assert response.status_code == 201, response.json
        body: dict[str, Any] = response.json or {}
        return body

    return make

"""Per-merchant rate limits, shared through the real Redis by every gateway worker."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import redis

from gateway_service.edge_settings import WhenLimiterDown
from paykit.ratelimit import RateLimit
from paykit.testing import wait_until

pytestmark = pytest.mark.integration

BODY = {"amount": 100, "currency": "EUR", "payment_method": "pm_card_visa"}


def _create(client, authorised, key: str):
    return client.post("/v1/payments", json=BODY, headers={**authorised, "Idempotency-Key": key})


def test_a_merchant_gets_its_burst_then_429_with_retry_after(make_gateway, authorised) -> None:
    client = make_gateway(write_limit=RateLimit(per_minute=6, burst=3)).test_client()

    answers = [_create(client, authorised, f"k{n}") for n in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["RateLimit-Limit"] == "3" for a in answers)
    refused = answers[-1]
    assert refused.json["code"] == "rate_limited"
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["Retry-After"] == "10"  # one request's worth at 6 a minute
    assert int(refused.headers["RateLimit-Reset"]) == 30


def test_a_refused_merchant_is_admitted_again_after_one_interval(make_gateway, authorised):
    client = make_gateway(write_limit=RateLimit(per_minute=300, burst=1)).test_client()
    assert _create(client, authorised, "a").status_code == 200
    assert _create(client, authorised, "b").status_code == 429

    assert wait_until(lambda: _create(client, authorised, "c").status_code == 200, timeout=2)


def test_writes_and_reads_and_merchants_have_their_own_buckets(
    make_gateway, authorised, signing_key
) -> None:
    client = make_gateway(write_limit=RateLimit(per_minute=1, burst=1)).test_client()
    other = signing_key.issue(
        issuer="gateway-edge-tests",
        audience="payments-api",
        subject=f"MER_other_{time.time_ns()}",
        ttl=timedelta(minutes=1),
        scopes=["payments:write"],
    )

    assert _create(client, authorised, "a").status_code == 200
    assert _create(client, authorised, "b").status_code == 429
    assert client.get("/v1/payments", headers=authorised).status_code == 200
    assert _create(client, {"Authorization": f"Bearer {other}"}, "a").status_code == 200


def test_two_gateway_workers_share_one_merchants_limit(make_gateway, authorised, redis_url):
    """Each worker has its own app and its own Redis connection, as two processes would."""
    limit = RateLimit(per_minute=6, burst=4)
    workers = [
        make_gateway(
            write_limit=limit, redis_for_limits=redis.Redis.from_url(redis_url)
        ).test_client()
        for _ in range(2)
    ]

    statuses = [_create(workers[n % 2], authorised, f"k{n}").status_code for n in range(8)]

    assert statuses.count(200) == 4
    assert statuses[4:] == [429] * 4


def _unreachable_redis() -> redis.Redis:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)


def test_with_redis_down_payments_go_on_when_failing_open(make_gateway, upstreams, authorised):
    client = make_gateway(redis_for_limits=_unreachable_redis()).test_client()

    answer = _create(client, authorised, "a")

    assert answer.status_code == 200
    assert "RateLimit-Remaining" not in answer.headers  # nothing was counted
    assert len(upstreams.seen) == 1


def test_during_an_outage_redis_is_not_asked_on_every_request(make_gateway, authorised):
    client = make_gateway(redis_for_limits=_unreachable_redis()).test_client()
    _create(client, authorised, "first")  # finds Redis down, paying the connect timeout

    started = time.monotonic()
    statuses = [_create(client, authorised, f"k{n}").status_code for n in range(5)]

    assert statuses == [200] * 5
    assert time.monotonic() - started < 0.5


def test_with_redis_down_requests_are_refused_when_failing_closed(
    make_gateway, upstreams, authorised
) -> None:
    client = make_gateway(
        redis_for_limits=_unreachable_redis(), when_limiter_down=WhenLimiterDown.REFUSE
    ).test_client()

    answer = _create(client, authorised, "a")

    assert answer.status_code == 503
    assert answer.json["code"] == "rate_limiter_unavailable"
    assert answer.headers["Retry-After"] == "1"
    assert upstreams.seen == []

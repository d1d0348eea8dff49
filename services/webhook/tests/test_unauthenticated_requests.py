"""What a request without a valid signature can cost us: a bounded record, within a rate limit.

Against the test cluster's PostgreSQL and Redis; each test posts from an address of its own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask

from localcluster.testing import ClusterEnv
from paykit.settings import Secret
from paykit.testing import wait_until
from webhook_service.adapters.source_rate_limiter import RedisSourceRateLimiter
from webhook_service.domain.rate_limits import AdmissionState, RateLimit

pytestmark = pytest.mark.integration

Body = Callable[..., dict[str, Any]]
PspFor = Callable[[Flask], Any]
FORGED = "t=1900000000,v1=" + "0" * 64
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def limited_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(unauthenticated_limit=RateLimit(per_minute=60, burst=3))


def test_a_forged_delivery_is_kept_as_a_bounded_record(
    psp: Any, payment_body: Body, webhook_db: Any, admin: Any, source_address: str
) -> None:
    raw = json.dumps(payment_body(padding="x" * 20_000)).encode()

    response = psp.post(
        raw,
        signature=FORGED,
        source=source_address,
        headers={"Cookie": "session=s3cr3t", "Authorization": "Basic dXNlcjpwYXNz", "X-Y": "z"},
    )

    assert (response.status_code, response.json["code"]) == (401, "invalid_signature")
    stored = webhook_db.delivery(response.json["delivery_id"])
    assert bytes(stored["body"]) == raw[:1024]
    assert stored["body_size"] == len(raw)
    assert stored["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert set(stored["headers"]) <= {"content-type", "content-length", "user-agent",
                                      "psp-signature"}  # fmt: skip
    assert stored["source_address"] == source_address
    shown = admin.get(f"/admin/deliveries/{stored['id']}").json
    assert (shown["body_truncated"], shown["source_address"]) == (True, source_address)


def test_a_source_over_its_limit_gets_429_and_stores_nothing_more(
    limited_app: Flask, psp_for: PspFor, payment_body: Body, webhook_db: Any, source_address: str
) -> None:
    psp = psp_for(limited_app)

    answers = [psp.post(payment_body(), signature=FORGED, source=source_address) for _ in range(5)]

    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    limited = answers[-1]
    assert limited.content_type == "application/problem+json"
    assert limited.json["code"] == "rate_limited"
    assert "delivery_id" not in limited.json
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(webhook_db.from_source(source_address)) == 3


def test_a_limited_source_still_gets_its_authentic_deliveries_through(
    limited_app: Flask, psp_for: PspFor, payment_body: Body, source_address: str
) -> None:
    psp = psp_for(limited_app)
    for _ in range(4):
        psp.post(payment_body(), signature=FORGED, source=source_address)
    neighbour = str(ipaddress.IPv4Address(source_address) + 1)

    genuine = psp.post(payment_body(), source=source_address)
    elsewhere = psp.post(payment_body(), signature=FORGED, source=neighbour)

    assert (genuine.status_code, genuine.json["status"]) == (200, "accepted")
    assert elsewhere.status_code == 401


def test_the_limit_refills_over_time(
    make_app: Callable[..., Flask], psp_for: PspFor, payment_body: Body, source_address: str
) -> None:
    psp = psp_for(make_app(unauthenticated_limit=RateLimit(per_minute=60, burst=1)))
    assert psp.post(payment_body(), signature=FORGED, source=source_address).status_code == 401
    limited = psp.post(payment_body(), signature=FORGED, source=source_address)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")

    def admitted_again() -> bool:
        answer = psp.post(payment_body(), signature=FORGED, source=source_address)
        return bool(answer.status_code == 401)

    assert wait_until(admitted_again, timeout=5, interval=0.05)


def test_concurrent_requests_cannot_take_more_than_the_burst(
    cluster: ClusterEnv, unique: str
) -> None:
    client = redis.Redis.from_url(cluster.redis_url)
    limiter = RedisSourceRateLimiter(client, RateLimit(per_minute=1, burst=5))
    start = threading.Barrier(20)
    states: list[AdmissionState] = []

    def ask() -> None:
        start.wait()
        states.append(limiter.admit(f"test-{unique}").state)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()

    assert states.count(AdmissionState.ADMITTED) == 5
    assert states.count(AdmissionState.LIMITED) == 15


def test_with_redis_down_authentic_deliveries_are_accepted_and_forged_ones_not_stored(
    make_app: Callable[..., Flask],
    psp_for: PspFor,
    payment_body: Body,
    webhook_db: Any,
    source_address: str,
) -> None:
    psp = psp_for(make_app(redis_url=Secret(CLOSED_PORT_REDIS)))

    genuine = psp.post(payment_body(), source=source_address)
    forged = [psp.post(payment_body(), signature=FORGED, source=source_address) for _ in range(5)]
    too_large = psp.post(payment_body(padding="x" * 70_000), source=source_address)

    assert (genuine.status_code, genuine.json["status"]) == (200, "accepted")
    assert {answer.status_code for answer in forged} == {401}
    assert too_large.status_code == 413
    assert all("delivery_id" not in answer.json for answer in [*forged, too_large])
    assert [row["verdict"] for row in webhook_db.from_source(source_address)] == ["accepted"]

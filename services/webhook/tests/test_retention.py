"""Rejected deliveries are pruned after their retention, by a loop that runs beside the relay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from paykit.testing import scratch_database, wait_until
from webhook_service.adapters.postgres_unit_of_work import PostgresUnitOfWork
from webhook_service.entrypoints.janitor import Janitor
from webhook_service.service_layer.retention import RetentionPolicy, prune_rejected_deliveries

Body = Callable[..., dict[str, Any]]
FORGED = "t=1900000000,v1=" + "0" * 64


@pytest.fixture
def pool(webhook_database: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(webhook_database, min_size=1, max_size=2) as opened:
        yield opened


def age(url: str, delivery_ids: list[str], hours: float) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE webhook_deliveries SET received_at = now() - %s WHERE id = ANY(%s)",
            (timedelta(hours=hours), delivery_ids),
        )


def surviving(url: str, delivery_ids: list[str]) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM webhook_deliveries WHERE id = ANY(%s)", (delivery_ids,)
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.integration
def test_only_rejected_deliveries_past_the_retention_are_pruned(
    psp: Any, payment_body: Body, webhook_database: str, pool: ConnectionPool
) -> None:
    body = payment_body()
    accepted = psp.post(body).json["delivery_id"]
    duplicate = psp.post(body).json["delivery_id"]
    forged_old = psp.post(payment_body(), signature=FORGED).json["delivery_id"]
    refused_old = psp.post(payment_body(status="PAID")).json["delivery_id"]
    forged_recent = psp.post(payment_body(), signature=FORGED).json["delivery_id"]
    everything = [accepted, duplicate, forged_old, refused_old, forged_recent]
    age(webhook_database, [accepted, duplicate, forged_old, refused_old], hours=73)
    age(webhook_database, [forged_recent], hours=71)

    removed = prune_rejected_deliveries(
        RetentionPolicy(timedelta(hours=72)), unit_of_work=partial(PostgresUnitOfWork, pool)
    )

    assert removed >= 2  # other tests' rows are all recent, so none of theirs
    assert surviving(webhook_database, everything) == {accepted, duplicate, forged_recent}


@pytest.mark.integration
def test_one_pass_removes_at_most_its_chunks_and_the_next_one_goes_on(
    psp: Any, payment_body: Body, webhook_database: str, pool: ConnectionPool
) -> None:
    forged = [psp.post(payment_body(), signature=FORGED).json["delivery_id"] for _ in range(5)]
    age(webhook_database, forged, hours=1000)  # older than any other test's rows
    policy = RetentionPolicy(timedelta(hours=999), chunk_size=2, max_chunks=2)
    prune = partial(
        prune_rejected_deliveries, policy, unit_of_work=partial(PostgresUnitOfWork, pool)
    )

    first, second = prune(), prune()

    assert (first, second) == (4, 1)
    assert surviving(webhook_database, forged) == set()


def test_a_failing_pass_does_not_stop_the_janitor() -> None:
    outcomes: list[int | Exception] = [psycopg.OperationalError("down"), RuntimeError("bug"), 3]

    def prune() -> int:
        outcome = outcomes.pop(0) if outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    janitor = Janitor(prune, interval_seconds=0.01)
    with janitor.running():
        assert wait_until(lambda: janitor.passes >= 4, timeout=5)

    passes = janitor.passes
    assert outcomes == []
    assert not wait_until(lambda: janitor.passes > passes, timeout=0.1)


@pytest.mark.integration
def test_the_relay_process_prunes_rejected_deliveries_and_stops_on_sigterm(
    cluster: ClusterEnv,
) -> None:
    sources = migration_sources("webhook")
    assert sources is not None
    # A database of its own: the relay publishes whatever outbox it finds, and this one is empty.
    with scratch_database(cluster.admin_url, sources, prefix="webhook_janitor") as url:
        with psycopg.connect(url) as conn:
            for delivery_id, hours in (("dlv_old", 5), ("dlv_recent", 0)):
                conn.execute(
                    "INSERT INTO webhook_deliveries (id, received_at, verdict, reason, "
                    "request_id, headers) VALUES (%s, %s, 'rejected', 'invalid_signature', "
                    "'req', '{}')",
                    (delivery_id, datetime.now(UTC) - timedelta(hours=hours)),
                )
        relay = subprocess.Popen(
            [sys.executable, "-m", "webhook_service.entrypoints.relay"],
            env={
                **os.environ,
                "WEBHOOK_DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
                "WEBHOOK_REJECTED_RETENTION_HOURS": "1",
                "WEBHOOK_PRUNE_INTERVAL_SECONDS": "1",
                "WEBHOOK_RELAY_METRICS_PORT": "",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            pruned = wait_until(lambda: surviving(url, ["dlv_old", "dlv_recent"]) == {"dlv_recent"})
        finally:
            relay.send_signal(signal.SIGTERM)
            _, stderr = relay.communicate(timeout=30)

    assert pruned, stderr.decode()[-2000:]
    assert relay.returncode == 0, stderr.decode()[-2000:]

"""The relay publishes accepted webhooks' events as normalised events, keyed by payment id.

The rows come from the tests' private copy of the webhook database and are published to a
private topic, so the cluster's running payment service never sees these made-up payments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents import decode
from payevents.topics import WEBHOOK_EVENTS, Topic
from paykit.kafka_clients import create_producer
from paykit.outbox import OutboxRelay
from paykit.testing import read_topic

pytestmark = pytest.mark.integration


def test_an_accepted_webhook_is_published_as_a_normalised_event_keyed_by_payment(
    psp: Any,
    payment_body: Callable[..., dict[str, Any]],
    cluster: ClusterEnv,
    webhook_database: str,
    unique: str,
) -> None:
    body = payment_body(status="FAILED", gatewayData={"failureCode": "card_declined"})
    assert psp.post(body).json["status"] == "accepted"
    private = Topic(f"{WEBHOOK_EVENTS.name}-{unique}", 3, WEBHOOK_EVENTS.key)
    ensure_topics(cluster.bootstrap_servers, (private,))
    with psycopg.connect(webhook_database) as conn:
        moved = conn.execute(
            "UPDATE outbox SET topic = %s WHERE topic = %s AND key = %s AND sent_at IS NULL",
            (private.name, WEBHOOK_EVENTS.name, f"PAY_{unique}".encode()),
        ).rowcount
    assert moved == 1  # exactly one normalised event was queued, for the webhook-events topic

    _relay_everything_unsent(cluster, webhook_database)

    records = read_topic(cluster.bootstrap_servers, private.name)
    assert [r.key for r in records] == [f"PAY_{unique}".encode()]
    event = decode(records[0].value, records[0].headers)
    assert event.type == "psp.payment_status_received"
    assert event.subject == f"PAY_{unique}"
    assert event.data["psp_event_id"] == body["id"]
    assert (event.data["status"], event.data["failure_code"]) == ("failed", "card_declined")


def test_a_payout_outcome_is_published_once_keyed_by_its_batch_and_a_retry_adds_nothing(
    psp: Any,
    payout_body: Callable[..., dict[str, Any]],
    cluster: ClusterEnv,
    webhook_database: str,
    unique: str,
) -> None:
    payouts = "/webhooks/psp/payouts"
    assert psp.post(payout_body(), path=payouts).json["status"] == "accepted"
    assert psp.post(payout_body(), path=payouts).json["status"] == "duplicate"
    private = Topic(f"{WEBHOOK_EVENTS.name}-{unique}", 3, WEBHOOK_EVENTS.key)
    ensure_topics(cluster.bootstrap_servers, (private,))
    with psycopg.connect(webhook_database) as conn:
        moved = conn.execute(
            "UPDATE outbox SET topic = %s WHERE topic = %s AND key = %s AND sent_at IS NULL",
            (private.name, WEBHOOK_EVENTS.name, f"BAT_{unique}".encode()),
        ).rowcount
    assert moved == 1

    _relay_everything_unsent(cluster, webhook_database)

    records = read_topic(cluster.bootstrap_servers, private.name)
    assert [r.key for r in records] == [f"BAT_{unique}".encode()]
    event = decode(records[0].value, records[0].headers)
    assert event.type == "psp.payout_status_received"
    assert (event.data["payout_id"], event.data["status"]) == (f"po_{unique}", "paid")


def _relay_everything_unsent(cluster: ClusterEnv, url: str) -> None:
    """Publishes the private database's unsent rows; other tests' rows go to webhook-events."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE topic = %s AND sent_at IS NULL",
            (WEBHOOK_EVENTS.name,),
        )
    producer = create_producer(cluster.bootstrap_servers, client_id="webhook-test-relay")
    try:
        relay = OutboxRelay(url, producer, batch_size=500)
        with psycopg.connect(url, autocommit=True) as conn:
            while relay.relay_once(conn):
                pass
    finally:
        producer.close()

"""The relay publishes accepted webhooks' events to webhook-events, keyed by payment id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from payevents import decode
from payevents.topics import WEBHOOK_EVENTS
from paykit.kafka_clients import create_producer
from paykit.outbox import OutboxRelay
from paykit.testing import read_topic, wait_until

pytestmark = pytest.mark.integration


def test_an_accepted_webhook_is_published_as_a_normalised_event_keyed_by_payment(
    psp: Any, payment_body: Callable[..., dict[str, Any]], cluster: ClusterEnv, unique: str
) -> None:
    body = payment_body(status="FAILED", gatewayData={"failureCode": "card_declined"})
    assert psp.post(body).json["status"] == "accepted"

    _relay_everything_unsent(cluster)

    def mine() -> list[Any]:
        records = read_topic(cluster.bootstrap_servers, WEBHOOK_EVENTS.name)
        return [r for r in records if r.key == f"PAY_{unique}".encode()]

    assert wait_until(lambda: len(mine()) >= 1)
    # Another relay (the cluster's own) may publish the same row too: duplicates share an id.
    events = [decode(record.value, record.headers) for record in mine()]
    assert {event.id for event in events} == {events[0].id}
    event = events[0]
    assert event.type == "psp.payment_status_received"
    assert event.subject == f"PAY_{unique}"
    assert event.data["psp_event_id"] == body["id"]
    assert (event.data["status"], event.data["failure_code"]) == ("failed", "card_declined")


def _relay_everything_unsent(cluster: ClusterEnv) -> None:
    url = cluster.database_urls["webhook"]
    producer = create_producer(cluster.bootstrap_servers, client_id="webhook-test-relay")
    try:
        relay = OutboxRelay(url, producer, batch_size=500)
        with psycopg.connect(url, autocommit=True) as conn:
            while relay.relay_once(conn):
                pass
    finally:
        producer.close()

"""Outbound webhooks end to end inside the service: real Kafka, PostgreSQL and HTTP receivers.

Platform events go onto a topic of the test's own, the notifier's handler runs in the kit's
consumer, the dispatcher calls receivers on 127.0.0.1 (allowlisted), and every call is checked
with the standardwebhooks package. Each test has a database of its own, so no dispatcher works
another test's queue.
"""

from __future__ import annotations

import ipaddress
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from payevents import Envelope, decode, encode, new_event
from payevents.topics import WEBHOOK_EVENTS, Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.db import create_pool, transaction
from paykit.kafka_clients import create_consumer, create_producer
from paykit.settings import Secret
from paykit.testing import running, scratch_database, wait_until
from webhook_service.adapters.message_repository import MessageRepository
from webhook_service.adapters.outbound_http import PinnedHttpSender
from webhook_service.adapters.secret_sealing import SecretSealer
from webhook_service.domain.endpoints import message_id
from webhook_service.domain.outbound_targets import TargetPolicy
from webhook_service.domain.public_events import PUBLIC_EVENT_TYPES
from webhook_service.domain.retry_schedule import RetrySchedule
from webhook_service.outbound_settings import OutboundTrust
from webhook_service.service_layer.dispatch import Dispatcher, DispatchPolicy
from webhook_service.service_layer.fanout import merchant_notifier
from webhook_service.service_layer.handlers import utc_now

pytestmark = pytest.mark.integration

TRUST = OutboundTrust((ipaddress.ip_network("127.0.0.1/32"),), secrets_key=b"s" * 32)
QUICK = DispatchPolicy(
    concurrency=8,
    per_endpoint=2,
    attempt_timeout_seconds=5,
    poll_interval_seconds=0.2,
    schedule=RetrySchedule(
        base=timedelta(seconds=0.2), max_delay=timedelta(seconds=1), horizon=timedelta(seconds=60)
    ),
)
# What "does not delay" means, measured from publishing an event to the healthy receiver
# getting it (Kafka, the notifier, the claim and the call), on a shared two-core machine.
HEALTHY_DELIVERY_BOUND_SECONDS = 3.0


@dataclass
class Outbound:
    database: str
    app: Flask
    topic: Topic
    client_for: Callable[[Flask, str], FlaskClient]
    stack: ExitStack
    cluster: ClusterEnv

    def merchant(self, merchant_id: str) -> FlaskClient:
        return self.client_for(self.app, merchant_id)

    def register(self, merchant_id: str, url: str, types: list[str] | None = None) -> Any:
        created = self.merchant(merchant_id).post(
            "/webhook_endpoints",
            json={"url": url, "event_types": types or sorted(PUBLIC_EVENT_TYPES)},
        )
        assert created.status_code == 201, created.json
        return created.json

    def publish(self, *envelopes: Envelope) -> float:
        producer = create_producer(self.cluster.bootstrap_servers, client_id="webhook-tests")
        sent_at = time.monotonic()
        for envelope in envelopes:
            value, headers = encode(envelope)
            producer.send(
                self.topic.name, key=envelope.subject.encode(), value=value, headers=headers
            )
        producer.flush()
        producer.close()
        return sent_at

    def notifier(self) -> Consumer:
        group = self.topic.consumers[0].name
        pool = create_pool(self.database, max_size=2)
        producer = create_producer(self.cluster.bootstrap_servers, client_id=group)
        kafka = create_consumer(self.cluster.bootstrap_servers, group_id=group, client_id=group)
        self.stack.callback(pool.close)
        self.stack.callback(producer.close)
        settings = ConsumerSettings(self.topic, group, poll_timeout=0.1)
        return Consumer(settings, merchant_notifier(utc_now), pool, kafka, producer)

    def dispatcher(self, policy: DispatchPolicy = QUICK) -> Dispatcher:
        pool = create_pool(self.database, max_size=policy.concurrency + 2)
        self.stack.callback(pool.close)
        return Dispatcher(
            pool,
            PinnedHttpSender(TargetPolicy(TRUST.allowed_networks), policy.attempt_timeout_seconds),
            SecretSealer(TRUST.secrets_key),
            policy,
            database_url=self.database,
        )

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture
def outbound(
    cluster: ClusterEnv,
    make_app: Callable[..., Flask],
    merchant_client: Callable[[Flask, str], FlaskClient],
    unique: str,
) -> Iterator[Outbound]:
    with ExitStack() as stack:
        sources = migration_sources("webhook")
        assert sources is not None
        database = stack.enter_context(
            scratch_database(cluster.admin_url, sources, prefix="webhook_outbound")
        )
        topic = cluster.private_topic(f"webhook-outbound-{unique}", partitions=3)
        app = make_app(database_url=Secret(database), outbound=TRUST)
        yield Outbound(database, app, topic, merchant_client, stack, cluster)


def payment_succeeded(merchant_id: str, amount: int = 1000) -> Envelope:
    payment = f"PAY_{uuid.uuid4().hex[:16]}"
    return new_event(
        "payment.succeeded",
        {
            "payment_id": payment,
            "merchant_id": merchant_id,
            "amount": amount,
            "currency": "EUR",
            "psp_reference": f"ch_{payment}",
        },
        source="payment",
        subject=payment,
    )


def refund_failed(merchant_id: str) -> Envelope:
    payment = f"PAY_{uuid.uuid4().hex[:16]}"
    return new_event(
        "refund.failed",
        {
            "refund_id": f"RFD_{payment}",
            "payment_id": payment,
            "merchant_id": merchant_id,
            "amount": 300,
            "currency": "EUR",
            "failure_code": "insufficient_balance",
            "failure_message": "Not enough left to refund.",
        },
        source="payment",
        subject=payment,
    )


def batch_paid(merchant_id: str) -> Envelope:
    return new_event(
        "settlement.batch_paid",
        {
            "batch_id": f"BAT_{uuid.uuid4().hex[:12]}",
            "merchant_id": merchant_id,
            "currency": "EUR",
            "amount": 98_350,
            "payout_id": "po_1",
            "attempt": 1,
        },
        source="settlement",
        subject=merchant_id,
    )


def test_every_delivery_verifies_with_the_reference_library_across_rotations(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    merchant, inbox = f"MER_{unique}", receiver()
    endpoint = outbound.register(merchant, inbox.url)
    first_secret, path = endpoint["secret"], f"/webhook_endpoints/{endpoint['id']}"
    events = [payment_succeeded(merchant), refund_failed(merchant), batch_paid(merchant)]

    with running(outbound.notifier()), running(outbound.dispatcher()):
        outbound.publish(events[0])
        assert wait_until(lambda: len(inbox.calls) == 1, timeout=20)
        second_secret = (
            outbound.merchant(merchant)
            .post(f"{path}/rotate_secret", json={"overlap_seconds": 3600})
            .json["secret"]
        )
        outbound.publish(events[1])
        assert wait_until(lambda: len(inbox.calls) == 2, timeout=20)
        third_secret = (
            outbound.merchant(merchant)
            .post(f"{path}/rotate_secret", json={"overlap_seconds": 0})
            .json["secret"]
        )
        outbound.publish(events[2])
        assert wait_until(lambda: len(inbox.calls) == 3, timeout=20)

    before, during, after = inbox.calls
    assert before.verifies_with(first_secret)
    assert during.verifies_with(first_secret) and during.verifies_with(second_secret)
    assert after.verifies_with(third_secret) and after.verifies_with(first_secret)
    assert not after.verifies_with(second_secret)  # rotated away with no overlap
    assert [json.loads(c.body)["id"] for c in inbox.calls] == [e.id for e in events]
    assert [c.webhook_id for c in inbox.calls] == [message_id(endpoint["id"], e.id) for e in events]
    assert json.loads(during.body) == {
        "id": events[1].id,
        "type": "refund.failed",
        "version": 1,
        "timestamp": events[1].occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "refund_id": events[1].data["refund_id"],
            "payment_id": events[1].data["payment_id"],
            "amount": 300,
            "currency": "EUR",
            "psp_reference": None,
            "failure_code": "insufficient_balance",
            "failure_message": "Not enough left to refund.",
            "status": "failed",
        },
    }
    assert "merchant_id" not in json.loads(before.body)["data"]
    assert not {"authorization", "cookie"} & set(before.headers)


def test_an_endpoint_down_for_a_while_gets_every_event_once_it_is_back(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    merchant, inbox = f"MER_{unique}", receiver()
    endpoint = outbound.register(merchant, inbox.url)
    events = [payment_succeeded(merchant, amount=100 + n) for n in range(8)]
    expected = {message_id(endpoint["id"], e.id) for e in events}
    inbox.down()

    with running(outbound.notifier()), running(outbound.dispatcher()):
        outbound.publish(*events)
        assert wait_until(
            lambda: (
                outbound.rows(
                    "SELECT count(DISTINCT message_id) FROM webhook_attempts"
                    " WHERE error = 'connection_failed' AND number >= 2"
                )[0][0]
                == len(events)
            ),
            timeout=30,
        )
        inbox.up()
        assert wait_until(lambda: set(inbox.ids()) == expected, timeout=30)
        assert wait_until(
            lambda: (
                outbound.rows("SELECT count(*) FROM webhook_messages WHERE state = 'delivered'")[0][
                    0
                ]
                == len(events)
            ),
            timeout=10,
        )

    log = (
        outbound.merchant(merchant)
        .get(f"/webhook_endpoints/{endpoint['id']}/attempts?limit=200")
        .json["data"]
    )
    succeeded = [a for a in log if a["outcome"] == "succeeded"]
    assert {a["message_id"] for a in succeeded} == expected
    assert all(a["http_status"] == 200 and a["latency_ms"] >= 0 for a in succeeded)
    assert all(a["response_excerpt"] == '{"ok": true}' for a in succeeded)
    failed = [a for a in log if a["outcome"] == "failed"]
    assert failed and {a["error"] for a in failed} == {"connection_failed"}


def test_a_permanently_dead_endpoint_is_disabled_after_the_horizon_and_can_recover(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    merchant, inbox = f"MER_{unique}", receiver()
    endpoint = outbound.register(merchant, inbox.url)
    client, path = outbound.merchant(merchant), f"/webhook_endpoints/{endpoint['id']}"
    inbox.down()
    horizon = replace(QUICK, schedule=replace(QUICK.schedule, horizon=timedelta(seconds=2)))
    missed = payment_succeeded(merchant)

    with running(outbound.notifier()), running(outbound.dispatcher(horizon)):
        outbound.publish(missed)
        assert wait_until(lambda: client.get(path).json["enabled"] is False, timeout=30)
        shown = client.get(path).json
        later = payment_succeeded(merchant)
        outbound.publish(later)
        assert wait_until(
            lambda: (
                [m["state"] for m in client.get(f"{path}/messages").json["data"]]
                == ["held", "failed"]
            ),
            timeout=20,
        )

        inbox.up()
        assert client.post(path, json={"enabled": True}).json["enabled"] is True
        since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        redelivered = client.post(f"{path}/redeliveries", json={"since": since})
        assert (redelivered.status_code, redelivered.json["redelivered"]) == (202, 2)
        assert wait_until(
            lambda: set(inbox.ids()) == {message_id(endpoint["id"], e.id) for e in (missed, later)},
            timeout=20,
        )

    assert shown["disabled_reason"] == "failing"
    (notice,) = shown["notices"]
    assert notice["type"] == "webhook_endpoint.disabled"
    assert "connection_failed" in notice["detail"]
    ((topic, value),) = outbound.rows(
        "SELECT topic, value FROM outbox WHERE key = %s", endpoint["id"].encode()
    )
    told = decode(bytes(value))
    assert (topic, told.type, told.subject) == (
        WEBHOOK_EVENTS.name,
        "webhook_endpoint.disabled",
        endpoint["id"],
    )
    assert told.data == {
        "endpoint_id": endpoint["id"],
        "merchant_id": merchant,
        "reason": "failing",
        "failing_since": told.data["failing_since"],
        "disabled_at": told.data["disabled_at"],
        "last_error": "connection_failed",
    }
    disabled_at = datetime.fromisoformat(told.data["disabled_at"])
    assert disabled_at == datetime.fromisoformat(shown["disabled_at"])
    # The horizon runs from the message's first queueing, a little before its first attempt.
    first_attempt = outbound.rows(
        "SELECT min(started_at) FROM webhook_attempts WHERE endpoint_id = %s", endpoint["id"]
    )[0][0]
    failing_since = datetime.fromisoformat(told.data["failing_since"])
    assert failing_since <= first_attempt
    assert disabled_at - failing_since >= timedelta(seconds=2)


def test_a_slow_endpoint_does_not_delay_another_merchants_deliveries(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    slow_inbox, healthy_inbox = receiver(), receiver()
    slow_inbox.delay = 20.0
    outbound.register(f"MER_slow_{unique}", slow_inbox.url)
    healthy = outbound.register(f"MER_ok_{unique}", healthy_inbox.url)
    policy = replace(QUICK, concurrency=4, attempt_timeout_seconds=25)
    published: dict[str, float] = {}

    with running(outbound.notifier()), running(outbound.dispatcher(policy)):
        outbound.publish(*[payment_succeeded(f"MER_slow_{unique}") for _ in range(6)])
        assert wait_until(lambda: len(slow_inbox.calls) == 2, timeout=20)
        for _ in range(6):
            event = payment_succeeded(f"MER_ok_{unique}")
            published[message_id(healthy["id"], event.id)] = outbound.publish(event)
            time.sleep(0.3)  # spread the healthy merchant's events over time, as traffic is
        assert wait_until(lambda: len(healthy_inbox.calls) == 6, timeout=20)
        in_flight_for_slow = len(slow_inbox.calls)

    latencies = [call.at - published[call.webhook_id] for call in healthy_inbox.calls]
    print(
        f"healthy delivery latency with a 20 s endpoint beside it: median"
        f" {statistics.median(latencies):.3f}s, max {max(latencies):.3f}s"
    )
    assert max(latencies) < HEALTHY_DELIVERY_BOUND_SECONDS
    assert in_flight_for_slow == 2  # the slow endpoint held two threads, never more


def test_a_dispatcher_that_died_mid_call_leaves_nothing_lost(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    merchant, inbox = f"MER_{unique}", receiver()
    endpoint = outbound.register(merchant, inbox.url)
    event = payment_succeeded(merchant)
    short_lease = replace(QUICK, attempt_timeout_seconds=1, lease_margin_seconds=0.5)

    with running(outbound.notifier()):
        outbound.publish(event)
        assert wait_until(lambda: outbound.rows("SELECT count(*) FROM webhook_messages")[0][0] == 1)
    pool = create_pool(outbound.database, max_size=1)
    with transaction(pool) as conn:  # claimed, committed, and then the process was gone
        (orphan,) = MessageRepository(conn).claim(limit=1, per_endpoint=2, lease=short_lease.lease)
    pool.close()

    with running(outbound.dispatcher(short_lease)):
        assert wait_until(lambda: len(inbox.calls) == 1, timeout=20)

    assert inbox.ids() == [message_id(endpoint["id"], event.id)] == [orphan.message_id]
    outcomes = outbound.rows(
        "SELECT outcome, error FROM webhook_attempts WHERE message_id = %s ORDER BY seq",
        orphan.message_id,
    )
    assert outcomes == [("abandoned", "dispatcher_stopped"), ("succeeded", None)]


def test_one_event_is_redelivered_on_request_and_a_replayed_platform_event_queues_nothing(
    outbound: Outbound, receiver: Callable[[], Any], unique: str
) -> None:
    merchant, inbox = f"MER_{unique}", receiver()
    endpoint = outbound.register(merchant, inbox.url, ["payment.succeeded"])
    wanted, other = payment_succeeded(merchant), payment_succeeded(merchant)
    path = f"/webhook_endpoints/{endpoint['id']}"

    with running(outbound.notifier()), running(outbound.dispatcher()):
        outbound.publish(wanted, other, wanted, refund_failed(merchant))
        assert wait_until(lambda: len(inbox.calls) == 2, timeout=20)
        again = outbound.merchant(merchant).post(
            f"{path}/redeliveries", json={"event_id": wanted.id}
        )
        assert again.json["redelivered"] == 1
        assert wait_until(lambda: len(inbox.calls) == 3, timeout=20)

    ids = inbox.ids()
    assert sorted(ids) == sorted(
        [message_id(endpoint["id"], e.id) for e in (wanted, other, wanted)]
    )
    assert outbound.rows("SELECT count(*) FROM webhook_messages")[0][0] == 2

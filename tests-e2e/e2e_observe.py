"""How the journeys wait and what they watch: conditions with a deadline that say what they
waited for, the events on the platform's topics, and the outside world (the PSP and its
signed webhooks)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx
import pytest
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from payevents import Envelope, decode
from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.kafka_clients import create_producer
from paykit.kafka_reading import read_to_end

E2E_TIMEOUT = 60.0
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, timeout: float = E2E_TIMEOUT) -> T:
    """Polls ``probe`` until it returns something truthy, and returns that; on timeout the test
    fails naming ``what`` it waited for and the last thing the probe saw."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f}s waiting for {what}; last saw {value!r}")
        time.sleep(0.2)


def types(envelopes: Iterable[Envelope]) -> Counter[str]:
    return Counter(envelope.type for envelope in envelopes)


def told(topics: Topics, topic: str, key: str, *wanted: str) -> Counter[str]:
    """The types of the events keyed ``key``, once each of ``wanted`` is among them (a relay
    publishes a moment after the state it tells of is visible)."""

    def seen() -> Counter[str] | None:
        counted = types(topics.events(topic, key))
        return counted if all(counted[name] for name in wanted) else None

    return eventually(seen, f"{topic} to tell {', '.join(wanted)} of {key}")


def at_least(topics: Topics, topic: str, key: str, count: int) -> list[Envelope]:
    """The events keyed ``key``, once there are ``count`` of them or more."""

    def enough() -> list[Envelope] | None:
        found = topics.events(topic, key)
        return found if len(found) >= count else None

    return eventually(enough, f"{count} events of {key} on {topic}")


class Topics:
    """The platform's Kafka topics as an outsider reads and writes them.

    One consumer serves every read (assigned afresh each time, no group), so a journey that
    polls a topic does not open and close a connection per look."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._consumer: KafkaConsumer | None = None

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _reader(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                enable_auto_commit=False,
                isolation_level="read_committed",
            )
        return self._consumer

    def records(self, topic: str, key: str | None = None, timeout: float = 10.0) -> list[Any]:
        """Every committed record in ``topic`` (only ``key``'s, read from its partition alone:
        the producers place a key by kafka-python's default murmur2 partitioner)."""
        consumer = self._reader()
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if key is not None and partitions:
            partitions = [partitions[(murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)]]
        found = read_to_end(consumer, topic, partitions=partitions, timeout=timeout)
        return [r for r in found if key is None or r.key == key.encode()]

    def events(self, topic: str, key: str) -> list[Envelope]:
        """The events keyed ``key`` (a payment, merchant or batch id), in log order."""
        return [decode(record.value) for record in self.records(topic, key)]

    def publish(self, topic: str, key: str, value: bytes) -> None:
        producer = create_producer(self.bootstrap_servers, client_id="e2e-outsider")
        try:
            producer.send(topic, key=key.encode(), value=value).get(timeout=15)
        finally:
            producer.close(timeout=10)


class Psp:
    """The PSP simulator: the outside world, driven through its own test controls."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        response = self.client.put("/_admin/faults", json=faults)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def clear_faults(self) -> None:
        self.client.delete("/_admin/faults")

    def hanging(self) -> int:
        return int(self.client.get("/_admin/faults").json()["hanging"])

    def _data(self, path: str, **params: str) -> list[dict[str, Any]]:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def charges(self, payment_id: str) -> list[dict[str, Any]]:
        return self._data("/_admin/charges", reference=payment_id)

    def deliveries(self, reference: str) -> list[dict[str, Any]]:
        """The PSP's webhooks about a payment (with its refunds) or a payout."""
        return self._data("/_admin/deliveries", reference=reference)

    def payouts(self, batch_id: str) -> list[dict[str, Any]]:
        """What the bank holds of a batch, attempt by attempt."""
        return self._data("/payouts", batch_id=batch_id)


class WebhookSender:
    """POSTs to the webhook service's public PSP endpoint, signed as the PSP signs, or not."""

    def __init__(self, client: httpx.Client, url: str, secret: str) -> None:
        self.client, self.url, self.secret = client, url, secret

    def send(
        self,
        body: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        signed_at: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """``signature`` replaces the header (empty: none at all); else it signs ``body`` with
        ``secret`` (the PSP's) at ``signed_at`` (now)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if signature is None:
            at = int(time.time()) if signed_at is None else signed_at
            signature = sign(raw, secret or self.secret, at)
        headers = {"Content-Type": "application/json"}
        if signature:
            headers[SIGNATURE_HEADER] = signature
        return self.client.post(self.url, content=raw, headers=headers)


def status_report(payment_id: str, status: str, event_id: str, **gateway: Any) -> dict[str, Any]:
    """A payment status webhook body in the PSP's full shape."""
    return {
        "id": event_id,
        "type": "payment.status",
        "paymentRef": payment_id,
        "status": status,
        "gatewayData": gateway,
    }

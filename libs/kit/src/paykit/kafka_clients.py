"""The platform's Kafka client settings, in one place.

Producers are idempotent with acks=all, so a retried send never duplicates or reorders a
partition; the outbox relay's producer is transactional as well, so a batch that failed part
way is aborted instead of half visible. Consumers never auto-commit, so an offset moves only
after the database commit, and read only committed records, so aborted sends are never seen.

Reconnects back off to at most one second (kafka-python's default grows to 30 s, Java's stops at
1 s): a client that saw the broker go away is back within a second of its return, not half a
minute later. A worker's consumer is a static group member (``group_instance_id``): restarted
after a crash, it takes its own place back without a rebalance, instead of waiting for the
broker to give up on the dead member's session.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from kafka import KafkaConsumer, KafkaProducer


def create_producer(bootstrap_servers: str, *, client_id: str, **overrides: Any) -> KafkaProducer:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "client_id": client_id,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 15_000,
        "reconnect_backoff_max_ms": 1_000,
        **overrides,
    }
    return KafkaProducer(**settings)


def create_transactional_producer(
    bootstrap_servers: str, *, client_id: str, transactional_id: str, **overrides: Any
) -> KafkaProducer:
    """A producer for one transaction at a time; call ``init_transactions`` before the first.

    Its waits are bounded well below kafka-python's defaults (a minute or two each) so a
    relay facing a broker that went away notices within seconds and retries, and the
    transaction timeout lets the coordinator abort a dead relay's open transaction, which holds
    back read-committed consumers of its partitions, after 30 s.
    """
    settings: dict[str, Any] = {
        "transactional_id": transactional_id,
        "transaction_timeout_ms": 30_000,
        "delivery_timeout_ms": 25_000,
        "request_timeout_ms": 10_000,
        "max_block_ms": 10_000,
        "bootstrap_timeout_ms": 10_000,
        **overrides,
    }
    return create_producer(bootstrap_servers, client_id=client_id, **settings)


def instance_id(client_id: str, configured: str | None = None) -> str:
    """A static member id unique per process slot and stable across its restarts.

    ``configured`` (``PAYKIT_INSTANCE_ID``, e.g. a Kubernetes pod or StatefulSet name) wins;
    otherwise the client id and the host name, which is what one machine running each worker
    once (the local cluster, one container per worker) needs. Two live consumers with the same
    id fence each other, so replicas on one host must be given ids.
    """
    raw = configured or f"{client_id}-{socket.gethostname()}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:249]


def create_consumer(
    bootstrap_servers: str, *, group_id: str, client_id: str, **overrides: Any
) -> KafkaConsumer:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_interval_ms": 300_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
        "reconnect_backoff_max_ms": 1_000,
        **overrides,
    }
    return KafkaConsumer(**settings)

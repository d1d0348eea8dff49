"""The platform's Kafka client settings, in one place.

Producers are idempotent with acks=all, so a retried send never duplicates or reorders a
partition; the outbox relay's producer is transactional as well, so a batch that failed part
way is aborted instead of half visible. Consumers never auto-commit, so an offset moves only
after the database commit, and read only committed records, so aborted sends are never seen.
"""

from __future__ import annotations

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
        "session_timeout_ms": 30_000,
        "heartbeat_interval_ms": 3_000,
        **overrides,
    }
    return KafkaConsumer(**settings)

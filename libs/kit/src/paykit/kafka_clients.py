"""The platform's Kafka client settings, in one place.

Producers are idempotent with acks=all, so a retried send never duplicates or reorders a
partition; consumers never auto-commit, so an offset moves only after the database commit, and
read only committed records, so a transactional producer's aborted sends are never seen.
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

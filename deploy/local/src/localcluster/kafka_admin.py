"""What the running Kafka cluster says about itself: its brokers, quorum leader and replicas.

Each question opens a short-lived admin client and answers "nothing" (an empty list, ``None``)
rather than raising when no broker answers, so callers can poll them in ``wait_for``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

T = TypeVar("T")
PROBE_TIMEOUT_MS = 5000


@contextlib.contextmanager
def _admin(bootstrap_servers: str) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=PROBE_TIMEOUT_MS,
        bootstrap_timeout_ms=PROBE_TIMEOUT_MS,
        client_id="localcluster-probe",
    )
    try:
        yield admin
    finally:
        admin.close()


def _ask(bootstrap_servers: str, question: Callable[[KafkaAdminClient], T], otherwise: T) -> T:
    try:
        with _admin(bootstrap_servers) as admin:
            return question(admin)
    except (KafkaError, OSError):
        return otherwise


def active_brokers(bootstrap_servers: str) -> list[int]:
    """Node ids of the registered brokers that are not fenced (a fenced one leads nothing)."""

    def ask(admin: KafkaAdminClient) -> list[int]:
        brokers = admin.describe_cluster()["brokers"]
        return sorted(b["broker_id"] for b in brokers if not b.get("is_fenced", False))

    return _ask(bootstrap_servers, ask, [])


def quorum_leader(bootstrap_servers: str) -> int | None:
    """The node leading the controller quorum: the active controller."""

    def ask(admin: KafkaAdminClient) -> int | None:
        partition = admin.describe_metadata_quorum()["topics"][0]["partitions"][0]
        leader = int(partition["leader_id"])
        return leader if leader >= 0 else None

    return _ask(bootstrap_servers, ask, None)


def under_replicated(bootstrap_servers: str) -> list[str] | None:
    """``topic/partition`` of each partition whose in-sync replicas are fewer than its
    replicas, internal topics included; ``None`` when the cluster did not answer."""

    def ask(admin: KafkaAdminClient) -> list[str] | None:
        return [
            f"{topic['name']}/{partition['partition_index']}"
            for topic in admin.describe_topics()
            for partition in topic["partitions"]
            if len(partition["isr_nodes"]) < len(partition["replica_nodes"])
        ]

    return _ask(bootstrap_servers, ask, None)


def partition_leaders(bootstrap_servers: str) -> dict[str, int]:
    """``topic/partition`` to the node leading it (-1: none, the partition is offline)."""

    def ask(admin: KafkaAdminClient) -> dict[str, int]:
        return {
            f"{topic['name']}/{partition['partition_index']}": int(partition["leader_id"])
            for topic in admin.describe_topics()
            for partition in topic["partitions"]
        }

    return _ask(bootstrap_servers, ask, {})

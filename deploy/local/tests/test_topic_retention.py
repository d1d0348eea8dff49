"""Topics keep their records exactly as long as the consumer inbox is sized for."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer.inbox import DLQ_RETENTION, TOPIC_RETENTION

pytestmark = pytest.mark.integration


def retention_ms(admin: KafkaAdminClient, topic: str) -> int:
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return int(described["topic"][topic]["retention.ms"]["value"])


def test_main_and_retry_topics_keep_a_week_and_the_dlq_two(cluster: ClusterEnv, unique: str):
    private = Topic(f"retention-{unique}", 1, "payment id", (ConsumerGroup(f"g-{unique}", (1.0,)),))
    ensure_topics(cluster.bootstrap_servers, (private,))
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        group = private.consumers[0].name
        week, fortnight = (int(r.total_seconds() * 1000) for r in (TOPIC_RETENTION, DLQ_RETENTION))
        assert retention_ms(admin, private.name) == week
        assert retention_ms(admin, private.retry_topic(group, 1)) == week
        assert retention_ms(admin, private.dlq_topic(group)) == fortnight
        ensure_topics(cluster.bootstrap_servers, (private,))  # again: still the same
        assert retention_ms(admin, private.dlq_topic(group)) == fortnight
    finally:
        admin.close()


def test_new_topics_are_returned_only_once_every_partition_has_a_leader(
    cluster: ClusterEnv, unique: str
) -> None:
    private = Topic(f"leaders-{unique}", 6, "payment id", (ConsumerGroup(f"g-{unique}", (1.0,)),))

    report = ensure_topics(cluster.bootstrap_servers, (private,))

    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        assert private.name in report.created
        described = {t["name"]: t for t in admin.describe_topics(report.created)}
        for name in report.created:
            partitions = described[name]["partitions"]
            assert partitions and all(part["leader_id"] >= 0 for part in partitions), name
        # a client asking at once sees them all: a subscriber gets its partitions
        assert consumer.partitions_for_topic(private.name) == set(range(6))
    finally:
        consumer.close()
        admin.close()

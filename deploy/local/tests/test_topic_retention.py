"""Topics keep their records exactly as long as the consumer inbox is sized for."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient
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

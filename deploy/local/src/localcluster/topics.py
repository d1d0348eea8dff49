"""Creates the catalogue's topics; running it again changes nothing.

Every topic gets an explicit retention, the ones the consumer inbox is sized against
(``paykit.consumer.inbox``): a dead letter can be replayed, and a retry record redelivered, only
while the inbox still remembers its event.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from localcluster.errors import ClusterError
from payevents.topics import CATALOGUE, Topic, TopicSpec, physical_topics
from paykit.consumer.inbox import DLQ_RETENTION, TOPIC_RETENTION


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def existing_partitions(admin: KafkaAdminClient) -> dict[str, int]:
    described = admin.describe_topics()
    return {entry["name"]: len(entry["partitions"]) for entry in described}


def topic_configs(spec: TopicSpec) -> dict[str, str]:
    retention = DLQ_RETENTION if spec.name.endswith(".dlq") else TOPIC_RETENTION
    return {"retention.ms": str(int(retention.total_seconds() * 1000))}


def ensure_topics(bootstrap_servers: str, catalogue: tuple[Topic, ...] = CATALOGUE) -> TopicReport:
    report = TopicReport()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="localcluster-topics")
    try:
        current = existing_partitions(admin)
        missing: list[NewTopic] = []
        for spec in physical_topics(catalogue):
            have = current.get(spec.name)
            if have is None:
                missing.append(
                    NewTopic(spec.name, spec.partitions, 1, topic_configs=topic_configs(spec))
                )
                report.created.append(spec.name)
            elif have < spec.partitions:
                admin.create_partitions({spec.name: NewPartitions(spec.partitions)})
                report.grown.append(spec.name)
            elif have > spec.partitions:
                raise ClusterError(
                    f"topic {spec.name} has {have} partitions but the catalogue declares "
                    f"{spec.partitions}: partitions cannot shrink, fix the catalogue"
                )
            else:
                report.unchanged.append(spec.name)
        existing = [
            ConfigResource(ConfigResourceType.TOPIC, spec.name, topic_configs(spec))
            for spec in physical_topics(catalogue)
            if spec.name in current
        ]
        if existing:  # topics made before their retention was set: setting it again is a no-op
            admin.alter_configs(existing)
        if missing:
            # another `up` may have created them between our describe and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
    return report

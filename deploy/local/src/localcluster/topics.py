"""Creates the catalogue's topics; running it again changes nothing.

Every topic gets an explicit retention, the ones the consumer inbox is sized against
(``paykit.consumer.inbox``): a dead letter can be replayed, and a retry record redelivered, only
while the inbox still remembers its event.

On a cluster of three brokers every topic has three replicas and ``min.insync.replicas=2``: the
platform's producers write with ``acks=all`` (``paykit.kafka_clients``), so a write the broker
acknowledged is on two brokers, and one broker lost loses neither a write nor the ability to
write.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from localcluster.config import replication_for
from localcluster.errors import ClusterError
from localcluster.processes import wait_for
from payevents.topics import CATALOGUE, Topic, TopicSpec, physical_topics
from paykit.consumer.inbox import DLQ_RETENTION, TOPIC_RETENTION


@dataclass(frozen=True)
class Replication:
    factor: int = 1
    min_insync: int = 1

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        return cls(*replication_for(brokers))


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def existing_partitions(admin: KafkaAdminClient) -> dict[str, int]:
    return {name: len(replicas) for name, replicas in existing_replicas(admin).items()}


def existing_replicas(admin: KafkaAdminClient) -> dict[str, list[int]]:
    """Per topic, each partition's replica count."""
    return {
        entry["name"]: [len(partition["replica_nodes"]) for partition in entry["partitions"]]
        for entry in admin.describe_topics()
    }


def topic_configs(spec: TopicSpec, replication: Replication = Replication()) -> dict[str, str]:
    retention = DLQ_RETENTION if spec.name.endswith(".dlq") else TOPIC_RETENTION
    return {
        "retention.ms": str(int(retention.total_seconds() * 1000)),
        "min.insync.replicas": str(replication.min_insync),
    }


def ensure_topics(
    bootstrap_servers: str,
    catalogue: tuple[Topic, ...] = CATALOGUE,
    replication: Replication | None = None,
) -> TopicReport:
    """Create missing topics with ``replication``; refuse existing ones replicated otherwise,
    since Kafka changes a topic's replica count only by reassigning every partition.

    Without ``replication`` (``bootstrap`` on infrastructure run elsewhere, tests), it follows
    the brokers the cluster has: three replicas from three brokers, else one.
    """
    report = TopicReport()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="localcluster-topics")
    try:
        if replication is None:
            replication = Replication.for_brokers(len(admin.describe_cluster()["brokers"]))
        replicas = existing_replicas(admin)
        current = {name: len(partitions) for name, partitions in replicas.items()}
        missing: list[NewTopic] = []
        for spec in physical_topics(catalogue):
            have = current.get(spec.name)
            if have is not None and set(replicas[spec.name]) != {replication.factor}:
                raise ClusterError(
                    f"topic {spec.name} has {sorted(set(replicas[spec.name]))} replicas per "
                    f"partition, not {replication.factor}: it was made for another broker count"
                )
            if have is None:
                configs = topic_configs(spec, replication)
                missing.append(
                    NewTopic(spec.name, spec.partitions, replication.factor, topic_configs=configs)
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
            ConfigResource(ConfigResourceType.TOPIC, spec.name, topic_configs(spec, replication))
            for spec in physical_topics(catalogue)
            if spec.name in current
        ]
        if existing:  # topics made before their retention was set: setting it again is a no-op
            admin.alter_configs(existing)
        if missing:
            # another `up` may have created them between our describe and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            _wait_for_leaders(admin, {topic.name: topic.num_partitions for topic in missing})
    finally:
        admin.close()
    return report


LEADERS_TIMEOUT_SECONDS = 30.0


def _wait_for_leaders(admin: KafkaAdminClient, partitions: dict[str, int]) -> None:
    """Return once every new topic has all its partitions with a leader.

    The controller accepts a create before the partitions have leaders everywhere; a consumer
    that subscribes in that window can be given no partitions and, since kafka-python refreshes
    its metadata only every few minutes, consume nothing until then.
    """

    def led() -> bool:
        described = admin.describe_topics(list(partitions))
        return all(
            topic["error_code"] == 0
            and len(topic["partitions"]) == partitions[topic["name"]]
            and all(part["leader_id"] >= 0 for part in topic["partitions"])
            for topic in described
        )

    if not wait_for(led, LEADERS_TIMEOUT_SECONDS, interval=0.1):
        raise ClusterError(f"new topics without leaders after {LEADERS_TIMEOUT_SECONDS:g} s")

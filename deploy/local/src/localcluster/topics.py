"""Creates the catalogue's topics; running it again changes nothing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from localcluster.errors import ClusterError
from payevents.topics import CATALOGUE, Topic, physical_topics


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def existing_partitions(admin: KafkaAdminClient) -> dict[str, int]:
    described = admin.describe_topics()
    return {entry["name"]: len(entry["partitions"]) for entry in described}


def ensure_topics(bootstrap_servers: str, catalogue: tuple[Topic, ...] = CATALOGUE) -> TopicReport:
    report = TopicReport()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="localcluster-topics")
    try:
        current = existing_partitions(admin)
        missing: list[NewTopic] = []
        for spec in physical_topics(catalogue):
            have = current.get(spec.name)
            if have is None:
                missing.append(NewTopic(spec.name, spec.partitions, 1))
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
        if missing:
            # another `up` may have created them between our describe and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
    return report

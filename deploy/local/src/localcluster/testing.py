"""What a test needs to reach a running cluster, read from the variables ``cluster.env`` sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from localcluster.config import SERVICES
from localcluster.topics import ensure_topics
from payevents.topics import ConsumerGroup, Topic


@dataclass(frozen=True)
class ClusterEnv:
    name: str
    bootstrap_servers: str
    redis_url: str
    admin_url: str
    database_urls: dict[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClusterEnv | None:
        env = os.environ if environ is None else environ
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            return None
        return cls(
            name=env["PAY_CLUSTER"],
            bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            redis_url=env["REDIS_URL"],
            admin_url=env["PAY_PG_ADMIN_URL"],
            database_urls={s: env[f"{s.upper()}_DATABASE_URL"] for s in SERVICES},
        )

    def private_topic(
        self,
        name: str,
        *,
        partitions: int,
        key: str = "payment id",
        group: str | None = None,
        retry_delays: tuple[float, ...] = (0.3, 0.6, 0.9),
    ) -> Topic:
        """A main topic of a test's own, created with its retry topics and DLQ, for one consumer
        group (named as the topic unless told): the test's consumer never meets the cluster's,
        and the short retry tiers keep a retried event's journey to seconds."""
        topic = Topic(name, partitions, key, (ConsumerGroup(group or name, retry_delays),))
        ensure_topics(self.bootstrap_servers, (topic,))
        return topic

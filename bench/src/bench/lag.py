"""Consumer lag of every platform consumer group: records written but not yet committed.

Read from outside the groups (an admin client for their committed offsets, a plain consumer
with no group for the partitions' ends), so measuring it moves nothing. A group's lag is the
sum over the partitions it reads (its topic and its retry tiers, from the catalogue) of the end
offset minus its committed offset (less the main topics' trailing commit markers); a partition
it never committed on counts from the start of its log, which is where the group would begin.
Counted in offsets, a backlog of several transactions reads a few markers high.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from payevents.topics import CATALOGUE, Topic

# Only the outbox relays write the main topics, each write in a transaction; the retry tiers
# are written by the consumers' plain producers.
MAIN_TOPICS = frozenset(topic.name for topic in CATALOGUE)


def partition_lag(end: int, committed: int, ends_with_marker: bool) -> int:
    """Offsets between the group's commit and the partition's end, less the commit marker a
    transactional producer writes after each transaction (it takes an offset, no consumer
    commits past it, so a group that read everything sits one short of such a partition's end).
    Never negative: a commit can pass an end read a moment before it."""
    gap = end - committed
    if ends_with_marker and gap > 0:
        gap -= 1
    return max(gap, 0)


def group_lag(
    partitions: list[TopicPartition],
    ends: Mapping[TopicPartition, int],
    beginnings: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    transactional_topics: Collection[str] = MAIN_TOPICS,
) -> int:
    """Records on ``partitions`` the group has not committed past; where it never committed,
    counted from the start of the log, where it would begin."""
    return sum(
        partition_lag(
            ends.get(tp, 0),
            committed.get(tp, beginnings.get(tp, 0)),
            ends_with_marker=tp.topic in transactional_topics,
        )
        for tp in partitions
    )


def group_topics(catalogue: tuple[Topic, ...] = CATALOGUE) -> dict[str, list[str]]:
    """Each consumer group of the catalogue and the topics it reads: its main topic and its
    retry tiers (not its DLQ, which nobody consumes)."""
    groups: dict[str, list[str]] = {}
    for topic in catalogue:
        for group in topic.consumers:
            tiers = [
                topic.retry_topic(group.name, n) for n in range(1, len(group.retry_delays) + 1)
            ]
            groups.setdefault(group.name, []).extend([topic.name, *tiers])
    return groups


@dataclass(frozen=True)
class LagSample:
    at: float  # epoch seconds
    lag: dict[str, int]


@dataclass
class LagSeries:
    """Lag samples over one rate and its drain, and each group's worst and last."""

    samples: list[LagSample] = field(default_factory=list)

    def groups(self) -> list[str]:
        return sorted({group for sample in self.samples for group in sample.lag})

    def max_lag(self, group: str) -> int:
        return max((sample.lag.get(group, 0) for sample in self.samples), default=0)

    def final_lag(self, group: str) -> int | None:
        return self.samples[-1].lag.get(group) if self.samples else None


class LagProbe:
    """Measures every platform group's lag on demand, with clients of its own."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="bench-lag")
        self._offsets = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
        )
        self._groups = {
            group: [
                TopicPartition(topic, partition)
                for topic in topics
                for partition in sorted(self._offsets.partitions_for_topic(topic) or ())
            ]
            for group, topics in group_topics().items()
        }

    def sample(self, at: float) -> LagSample:
        every = [tp for partitions in self._groups.values() for tp in partitions]
        ends = self._offsets.end_offsets(every)
        beginnings = self._offsets.beginning_offsets(every)
        committed = self._admin.list_group_offsets({group: None for group in self._groups})
        return LagSample(
            at,
            {
                group: group_lag(
                    partitions,
                    ends,
                    beginnings,
                    {
                        tp: meta.offset
                        for tp, meta in committed.get(group, {}).items()
                        if meta.offset >= 0
                    },
                )
                for group, partitions in self._groups.items()
            },
        )

    def close(self) -> None:
        self._offsets.close(autocommit=False)
        self._admin.close()

"""Reading a topic to the end it had when the read began, without joining a consumer group.

The DLQ tool, the tests and the journeys all read this way: each partition from the first record
retention kept (or a group's committed position, if later) up to its end offset at the start, so
a read ends even while producers go on writing. ``timeout`` bounds each request and any stretch
of polling in which no partition moves.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition


class UnknownTopic(LookupError):
    """The broker knows no such topic."""


class ReadStalled(TimeoutError):
    """No partition moved for the whole timeout."""


def read_to_end(
    consumer: KafkaConsumer,
    topic: str,
    *,
    partitions: Iterable[int] | None = None,
    from_committed: bool = False,
    timeout: float,
) -> Iterator[Any]:
    """Every committed record of ``topic`` (of ``partitions``, if given) up to the end offsets
    read at the start. ``consumer`` is assigned afresh, so one consumer serves many reads."""
    timeout_ms = int(timeout * 1000)
    if partitions is None:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise UnknownTopic(f"topic {topic} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    beginnings = consumer.beginning_offsets(tps, timeout_ms=timeout_ms)
    ends = consumer.end_offsets(tps, timeout_ms=timeout_ms)
    unread = set()
    for tp in tps:
        committed = consumer.committed(tp, timeout_ms=timeout_ms) if from_committed else None
        start = max(committed or 0, beginnings[tp])
        consumer.seek(tp, start)
        if start < ends[tp]:
            unread.add(tp)
    deadline = time.monotonic() + timeout
    while unread:
        batches = consumer.poll(timeout_ms=min(500, timeout_ms))
        for tp, batch in batches.items():
            for record in batch:
                if record.offset < ends[tp]:
                    yield record
        # a partition can reach its end without a record: aborted or removed ones are skipped
        positions = {tp: consumer.position(tp, timeout_ms=timeout_ms) for tp in unread}
        finished = {tp for tp, at in positions.items() if at is not None and at >= ends[tp]}
        unread -= finished
        if batches or finished:
            deadline = time.monotonic() + timeout
        elif time.monotonic() > deadline:
            stuck = ", ".join(
                f"partition {tp.partition} at {positions[tp]} of {ends[tp]}"
                for tp in sorted(unread)
            )
            raise ReadStalled(f"reading {topic} made no progress for {timeout:g} s ({stuck})")

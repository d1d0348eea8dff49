"""Retry records wait on their own partitions until they are due, without sleeping.

A retry tier's record carries the time it is due (``x-retry-not-before-ms``). When the poll
returns one that is not due yet, its partition is paused and rewound to it; the rest of the
consumer (the main topic, other tiers) keeps flowing and heartbeats continue. The partition is
resumed once the time has come, or forgotten when a rebalance takes it away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from paykit.consumer.routing import RoutingState


@dataclass
class DueBatch:
    """Records to process now, and per partition the position after them (what to commit)."""

    records: list[Any] = field(default_factory=list)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    starts: dict[TopicPartition, int] = field(default_factory=dict)


class RetryScheduler:
    def __init__(self, kafka: KafkaConsumer, main_topic: str, clock: Callable[[], float]) -> None:
        self.kafka = kafka
        self.main_topic = main_topic
        self.clock = clock
        self.paused: dict[TopicPartition, float] = {}

    def take_due(self, polled: dict[TopicPartition, list[Any]]) -> DueBatch:
        now_ms = self.clock() * 1000
        batch = DueBatch()
        for tp, records in polled.items():
            if not records:
                continue
            batch.starts[tp] = records[0].offset
            for record in records:
                not_before = RoutingState.read(record.headers).not_before_ms
                if tp.topic != self.main_topic and not_before is not None and not_before > now_ms:
                    self.kafka.pause(tp)
                    self.kafka.seek(tp, record.offset)
                    self.paused[tp] = not_before / 1000
                    batch.positions[tp] = record.offset
                    break
                batch.records.append(record)
                batch.positions[tp] = record.offset + 1
        return batch

    def resume_due(self) -> None:
        now = self.clock()
        assigned = self.kafka.assignment()
        for tp, resume_at in list(self.paused.items()):
            if tp not in assigned:
                del self.paused[tp]
            elif resume_at <= now:
                self.kafka.resume(tp)
                del self.paused[tp]

    def poll_timeout(self, default: float) -> float:
        if not self.paused:
            return default
        until_next = min(self.paused.values()) - self.clock()
        return max(0.0, min(default, until_next))

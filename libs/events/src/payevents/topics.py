"""The topic catalogue: the one place that names every Kafka topic of the platform.

Infrastructure scripts create topics from it, producers look up a topic's key, and the consumer
runtime derives its retry tiers and dead letter queue from it, so a topic cannot exist in one place
and be missing from another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumerGroup:
    """A consumer group reading a topic, with the delays (seconds) of its retry tiers."""

    name: str
    retry_delays: tuple[float, ...] = (5.0, 30.0, 300.0)


@dataclass(frozen=True)
class Topic:
    """A main topic, the key that keeps its order, and the groups that consume it."""

    name: str
    partitions: int
    key: str
    consumers: tuple[ConsumerGroup, ...] = ()
    retry_partitions: int = 1

    def retry_topic(self, group: str, tier: int) -> str:
        return f"{self.name}.{group}.retry.{tier}"

    def dlq_topic(self, group: str) -> str:
        return f"{self.name}.{group}.dlq"

    def consumer(self, group: str) -> ConsumerGroup:
        for consumer in self.consumers:
            if consumer.name == group:
                return consumer
        raise KeyError(f"topic {self.name!r} has no consumer group {group!r}")


@dataclass(frozen=True)
class TopicSpec:
    """One physical topic to create: a main, retry or DLQ topic."""

    name: str
    partitions: int


PAYMENT_EVENTS = Topic(
    name="payment-events",
    partitions=6,
    key="payment id",
    consumers=(
        ConsumerGroup("payment-psp-charger"),
        ConsumerGroup("ledger-poster"),
        ConsumerGroup("webhook-payment-notifier"),
    ),
)
WEBHOOK_EVENTS = Topic(
    name="webhook-events",
    partitions=6,
    key="payment id (batch id for payout outcomes, endpoint id for webhook endpoint events)",
    consumers=(ConsumerGroup("payment-status-applier"), ConsumerGroup("settlement-payout-applier")),
)
LEDGER_EVENTS = Topic(
    name="ledger-events",
    partitions=6,
    key="merchant id",
    consumers=(ConsumerGroup("settlement-itemizer"),),
)
SETTLEMENT_EVENTS = Topic(
    name="settlement-events",
    partitions=3,
    key="merchant id",
    consumers=(
        ConsumerGroup("ledger-settlement-poster"),
        ConsumerGroup("webhook-settlement-notifier"),
    ),
)

CATALOGUE: tuple[Topic, ...] = (PAYMENT_EVENTS, WEBHOOK_EVENTS, LEDGER_EVENTS, SETTLEMENT_EVENTS)


def topic(name: str) -> Topic:
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    raise KeyError(f"no topic {name!r} in the catalogue")


def physical_topics(catalogue: tuple[Topic, ...] = CATALOGUE) -> list[TopicSpec]:
    """Every topic to create: each main topic, then each group's retry tiers and DLQ."""
    specs: list[TopicSpec] = []
    for entry in catalogue:
        specs.append(TopicSpec(entry.name, entry.partitions))
        for group in entry.consumers:
            for tier in range(1, len(group.retry_delays) + 1):
                specs.append(TopicSpec(entry.retry_topic(group.name, tier), entry.retry_partitions))
            specs.append(TopicSpec(entry.dlq_topic(group.name), entry.retry_partitions))
    return specs

"""Every consumer group's dead letter queue, read and replayed with the kit's DLQ tool.

The topics come from the catalogue (``payevents.topics``): one DLQ per (topic, consumer group),
so a group added there shows here with no change. Letters are read from Kafka directly, as
``payctl dlq`` does: no service offers them over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError

from payevents.topics import CATALOGUE
from paykit import dlq


class DeadLettersUnavailable(Exception):
    """Kafka did not answer, or a DLQ could not be read; the message says which."""


@dataclass(frozen=True)
class Queue:
    topic: str
    group: str
    dlq_topic: str


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    described: dict[str, Any]
    value: str
    headers: list[tuple[str, str]]

    @property
    def spot(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def pretty_value(self) -> str:
        try:
            return json.dumps(json.loads(self.value), indent=2, sort_keys=True)
        except ValueError:
            return self.value


def queues() -> list[Queue]:
    return [
        Queue(entry.name, group.name, entry.dlq_topic(group.name))
        for entry in CATALOGUE
        for group in entry.consumers
    ]


def queue(dlq_topic: str) -> Queue | None:
    return next((q for q in queues() if q.dlq_topic == dlq_topic), None)


@dataclass(frozen=True)
class DeadLetters:
    bootstrap_servers: str
    timeout: float

    def letters(self, dlq_topic: str) -> list[Letter]:
        try:
            found = dlq.list_dead_letters(self.bootstrap_servers, dlq_topic, timeout=self.timeout)
        except (dlq.DlqError, KafkaError) as error:
            raise DeadLettersUnavailable(" ".join(str(error).split())) from None
        return [_letter(found_letter) for found_letter in found]

    def replay(self, dlq_topic: str, spot: tuple[int, int] | None) -> int:
        """Send one letter back (again, if asked), or every letter not replayed before."""
        offsets = {spot} if spot is not None else None
        try:
            sent = dlq.replay(
                self.bootstrap_servers, dlq_topic, offsets=offsets, timeout=self.timeout
            )
        except (dlq.DlqError, KafkaError) as error:
            raise DeadLettersUnavailable(" ".join(str(error).split())) from None
        return len(sent)


def _letter(found: dlq.DeadLetter) -> Letter:
    return Letter(
        found.partition,
        found.offset,
        found.describe(),
        found.value.decode(errors="replace"),
        [(name, value.decode(errors="replace")) for name, value in found.headers],
    )

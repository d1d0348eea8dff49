"""Where a failed message goes next, and the headers that travel with it.

A message that fails on its main topic goes to retry tier 1, then 2, and so on; after the last
tier, or at once when it is invalid, it goes to the group's DLQ. The headers record where it
came from and why it failed, so the DLQ can be inspected and replayed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from payevents.topics import Topic
from paykit.consumer.errors import MalformedRecord, NotYetApplicable

H_ATTEMPTS = "x-attempts"
H_NOT_BEFORE = "x-retry-not-before-ms"
H_ORIGINAL_TOPIC = "x-original-topic"
H_ORIGINAL_PARTITION = "x-original-partition"
H_ORIGINAL_OFFSET = "x-original-offset"
H_FIRST_FAILURE = "x-first-failure-at"
H_ERROR_TYPE = "x-error-type"
H_ERROR_MESSAGE = "x-error-message"
H_DLQ_REASON = "x-dlq-reason"
H_GROUP = "x-consumer-group"
ROUTING_HEADERS = frozenset(
    {
        H_ATTEMPTS,
        H_NOT_BEFORE,
        H_ORIGINAL_TOPIC,
        H_ORIGINAL_PARTITION,
        H_ORIGINAL_OFFSET,
        H_FIRST_FAILURE,
        H_ERROR_TYPE,
        H_ERROR_MESSAGE,
        H_DLQ_REASON,
        H_GROUP,
    }
)
MAX_ERROR_MESSAGE = 500

Headers = list[tuple[str, bytes]]


def header(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", errors="replace")
    return None


def _count(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> int | None:
    raw = header(headers, name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise MalformedRecord(f"header {name}={raw[:40]!r} is not a whole number")
    return int(raw)


@dataclass(frozen=True)
class RoutingState:
    """What the routing headers of a consumed record say: attempts so far, when it is due."""

    attempts: int = 0
    not_before_ms: int | None = None
    malformed: MalformedRecord | None = None

    @classmethod
    def read(cls, headers: Sequence[tuple[str, bytes | None]] | None) -> RoutingState:
        """Never raises: a malformed header is kept, so the record can be dead-lettered for it."""
        try:
            attempts = _count(headers, H_ATTEMPTS) or 0
            not_before = _count(headers, H_NOT_BEFORE)
        except MalformedRecord as error:
            return cls(malformed=error)
        return cls(attempts, not_before)


def without_routing(headers: Sequence[tuple[str, bytes | None]] | None) -> Headers:
    return [(k, v) for k, v in headers or () if k not in ROUTING_HEADERS and v is not None]


@dataclass(frozen=True)
class Failure:
    """Why a record was not applied; ``kind`` decides its route.

    ``invalid``: the DLQ now (reason ``invalid``); ``retryable``: the next retry tier, or the DLQ
    (reason ``retries_exhausted``) after the last.
    """

    kind: str
    error: BaseException

    @property
    def counts_toward_limit(self) -> bool:
        return not isinstance(self.error, NotYetApplicable)

    @property
    def error_type(self) -> str:
        return type(self.error).__name__

    @property
    def message(self) -> str:
        return str(self.error)[:MAX_ERROR_MESSAGE]


@dataclass(frozen=True)
class Route:
    topic: str
    headers: Headers
    dead_letter: bool


def route_failure(
    topic: Topic,
    group: str,
    delays: Sequence[float],
    *,
    record_topic: str,
    partition: int,
    offset: int,
    headers: Sequence[tuple[str, bytes | None]] | None,
    failure: Failure,
    now: float | None = None,
) -> Route:
    """The next topic for a failed record and the headers to send with it."""
    now = time.time() if now is None else now
    state = RoutingState.read(headers)
    attempts = state.attempts + 1
    first_failure = header(headers, H_FIRST_FAILURE) or datetime.fromtimestamp(now, UTC).isoformat()
    routing = {
        H_ATTEMPTS: str(attempts),
        H_ORIGINAL_TOPIC: header(headers, H_ORIGINAL_TOPIC) or record_topic,
        H_ORIGINAL_PARTITION: header(headers, H_ORIGINAL_PARTITION) or str(partition),
        H_ORIGINAL_OFFSET: header(headers, H_ORIGINAL_OFFSET) or str(offset),
        H_FIRST_FAILURE: first_failure,
        H_ERROR_TYPE: failure.error_type,
        H_ERROR_MESSAGE: failure.message,
        H_GROUP: group,
    }
    if failure.kind == "invalid" or attempts > len(delays):
        routing[H_DLQ_REASON] = "invalid" if failure.kind == "invalid" else "retries_exhausted"
        target, dead = topic.dlq_topic(group), True
    else:
        routing[H_NOT_BEFORE] = str(int((now + delays[attempts - 1]) * 1000))
        target, dead = topic.retry_topic(group, attempts), False
    encoded = [(k, v.encode("utf-8")) for k, v in routing.items()]
    return Route(target, without_routing(headers) + encoded, dead)


class DlqLimit:
    """Trips when at least ``max_ratio`` of the last ``window`` outcomes were dead letters."""

    def __init__(self, max_ratio: float = 0.5, window: int = 50, min_messages: int = 10) -> None:
        if not 0 < max_ratio <= 1 or min_messages > window:
            raise ValueError("need 0 < max_ratio <= 1 and min_messages <= window")
        self.max_ratio = max_ratio
        self.min_messages = min_messages
        self._outcomes: deque[bool] = deque(maxlen=window)

    def record(self, dead_lettered: bool) -> None:
        self._outcomes.append(dead_lettered)

    def snapshot(self) -> tuple[bool, ...]:
        return tuple(self._outcomes)

    def restore(self, snapshot: tuple[bool, ...]) -> None:
        self._outcomes.clear()
        self._outcomes.extend(snapshot)

    def reset(self) -> None:
        """Forget the window: a resumed consumer is judged on what happens after."""
        self._outcomes.clear()

    def exceeded(self) -> bool:
        seen = len(self._outcomes)
        return seen >= self.min_messages and sum(self._outcomes) / seen >= self.max_ratio

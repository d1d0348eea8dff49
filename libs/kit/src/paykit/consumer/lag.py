"""Consumer lag, collected beside the work and never in its way.

Asking the broker for end offsets can time out (a broker restarting, a slow controller); done
in the poll loop, that stopped processing. ``LagReporter`` runs in its own thread with its own
client (kafka-python consumers are not thread-safe), reads the partitions the loop owns from a
snapshot the loop hands it, and swallows and logs its own failures. Gauges of partitions the
consumer no longer owns are removed, so a dashboard never shows a revoked partition's stale lag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from kafka import KafkaConsumer, TopicPartition

from paykit.consumer import metrics

log = structlog.get_logger(__name__)


class LagReporter:
    def __init__(
        self, group: str, client: Callable[[], KafkaConsumer], *, interval: float = 10.0
    ) -> None:
        self.group = group
        self.interval = max(interval, 0.05)
        self._client_factory = client
        self._client: KafkaConsumer | None = None
        self._owned: frozenset[TopicPartition] = frozenset()
        self._reported: set[TopicPartition] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lag-{group}", daemon=True)

    def own(self, partitions: frozenset[TopicPartition]) -> None:
        """Called by the loop: the partitions assigned to this member now."""
        self._owned = partitions

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._client is not None:
            self._client.close(autocommit=False)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.collect()
            except Exception as error:  # lag is information; the work goes on without it
                log.warning("lag_collection_failed", group=self.group, error=str(error))

    def collect(self) -> None:
        owned = self._owned
        for tp in self._reported - owned:
            metrics.LAG.remove(self.group, tp.topic, str(tp.partition))
        self._reported &= set(owned)
        if not owned:
            return
        if self._client is None:
            self._client = self._client_factory()
        ends = self._client.end_offsets(list(owned))
        for tp in owned:
            committed = self._client.committed(tp) or 0
            lag = max(0, ends.get(tp, 0) - committed)
            metrics.LAG.labels(self.group, tp.topic, str(tp.partition)).set(lag)
            self._reported.add(tp)

"""Step three for handlers that own their transactions, several at once.

A handler that calls another system (a PSP) spends most of its time waiting on it; run one
after another, a consumer is bound by that latency however idle the machine is. With
``handler_concurrency`` above 1 a polled batch is split into lanes by record key: a lane's
records run one after another, in the batch's order (so one payment's events never overtake
each other), and different lanes run at once on a bounded set of threads, each lane on a
connection of its own, through the same per-record code as the sequential path.

The runtime waits for every handler it started before it routes failures and commits, so no
offset passes a record whose handler has not finished. A lane stops starting records once the
consumer is stopping, the batch's deadline has passed, or another lane lost the database; what
it did not start is marked ``deferred``. The runtime commits each partition only up to its first
deferred record and rewinds to it, so that record and everything after it is delivered again:
duplicates (which the inbox drops) and never losses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from psycopg_pool import ConnectionPool

from paykit.consumer.decoding import Outcome
from paykit.db import Connection

# Runs one lane's records on ``conn`` in order, until the callable says to start no more.
LaneWork = Callable[[Connection, Sequence[Outcome], Callable[[], bool]], None]

# A lane's first record waits at most this long for its connection.
CONNECTION_TIMEOUT = 10.0


def lanes_by_key(outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
    """The outcomes grouped by record key, each group in the batch's order, groups in the order
    of their first record. Records without a key keep their partition's order."""
    lanes: dict[Hashable, list[Outcome]] = {}
    for outcome in outcomes:
        record = outcome.record
        key: Hashable = record.key if record.key is not None else (record.topic, record.partition)
        lanes.setdefault(key, []).append(outcome)
    return list(lanes.values())


def defer(outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        outcome.deferred = True


class Lanes:
    """A bounded set of threads running lanes; the pool is grown to one connection per thread."""

    def __init__(self, pool: ConnectionPool, concurrency: int, group: str) -> None:
        if pool.max_size < concurrency:
            pool.resize(pool.min_size, concurrency)  # a lane waiting on the pool would stall
        self.pool = pool
        self.concurrency = concurrency
        self.group = group
        self._executor: ThreadPoolExecutor | None = None

    def run(
        self, outcomes: Sequence[Outcome], work: LaneWork, stopping: Callable[[], bool]
    ) -> None:
        """Run every lane of ``outcomes``; return once every started handler has returned.

        Raises the first error a lane raised (a lost database), after the other lanes stopped
        starting records.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.concurrency, f"{self.group}-lane")
        failed = threading.Event()

        def give_up() -> bool:
            return failed.is_set() or stopping()

        def run_lane(lane: Sequence[Outcome]) -> None:
            if give_up():
                defer(lane)
                return
            try:
                with self.pool.connection(timeout=CONNECTION_TIMEOUT) as conn:
                    work(conn, lane, give_up)
            except BaseException:
                failed.set()
                raise

        futures: list[Future[None]] = [
            self._executor.submit(run_lane, lane) for lane in lanes_by_key(outcomes)
        ]
        wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

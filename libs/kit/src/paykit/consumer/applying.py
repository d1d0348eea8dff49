"""Step two: apply decoded events with their inbox rows, inside database transactions.

Contract of ``Applier.apply``: every pending outcome ends applied, ``duplicate`` (its inbox row
was there), or with a ``failure`` saying why it was not applied; nothing a handler did survives
for an outcome that failed. It raises only ``DatabaseUnavailable``, when no transaction could be
trusted to have committed: the caller redoes the whole batch once the database is back, and the
inbox turns what did commit into duplicates.

Three strategies. Per event (``per_batch=False``): one transaction per event. Handler-owned
(``handler_transactions=True``), for handlers that call other systems (a PSP): the runtime opens
no transaction around the handler, so no lock can be held across the call; the connection it
is given is in autocommit mode, the handler commits its own short transactions (recording the
intent, then applying the answer) and must be idempotent, because the inbox row is written only
after it returns: a crash in between repeats the handler; with ``concurrency`` above 1 the
handlers of different keys run at once (``paykit.consumer.lanes``). Per batch: one transaction, one
inbox statement and no savepoints (the fast path); if any handler fails, it is rolled back and
the batch is applied again event by event, each in a savepoint, so that only the culprit
fails. Batch handlers therefore do database work only: they may run twice. A ``Batched``
handler is given the fast path's new events all at once, so it can write them as a set (one
statement for many rows); on the fall-back it is given one event at a time.

Whichever the strategy, a handler that returns with its transaction aborted (it caught a
database error without a savepoint) has failed: COMMIT would silently roll its effect back.
Transient database errors (deadlocks, lock and statement timeouts) are retried in place a few
times before the event fails over to the retry tiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from psycopg import pq
from psycopg_pool import ConnectionPool

from payevents import Envelope
from paykit.consumer import metrics
from paykit.consumer.decoding import Outcome
from paykit.consumer.errors import DatabaseUnavailable, RetryableError, TransactionAborted
from paykit.consumer.lanes import Lanes, defer
from paykit.consumer.routing import Failure
from paykit.consumer.taxonomy import Disposition, classify, connection_lost
from paykit.db import Connection

log = structlog.get_logger(__name__)

_INBOX_ONE = (
    "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1"
)
_INBOX_SEEN = "SELECT 1 FROM inbox WHERE consumer = %s AND event_id = %s"
_INBOX_MANY = (
    "INSERT INTO inbox (consumer, event_id) SELECT %s, unnest(%b::text[])"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)


class Handler(Protocol):
    """Applies one event inside the open transaction ``conn``; raises to refuse it."""

    def __call__(self, conn: Connection, envelope: Envelope) -> None: ...


class BatchHandler(Protocol):
    """Applies events, in their order, inside the open transaction ``conn``; raises to refuse.

    Refusing refuses them all: the runtime then offers them again one at a time.
    """

    def __call__(self, conn: Connection, envelopes: Sequence[Envelope]) -> None: ...


@dataclass(frozen=True)
class Batched:
    """A handler that applies a batch's new events in one call (see the module's docstring).

    Applying events one by one or all at once must have the same effect: the fall-back that
    finds a culprit, a redelivery and a rebuild see the same events in other groupings.
    """

    apply_batch: BatchHandler

    def __call__(self, conn: Connection, envelope: Envelope) -> None:
        self.apply_batch(conn, (envelope,))


def _never() -> bool:
    return False


def require_healthy(conn: Connection) -> None:
    if conn.info.transaction_status is pq.TransactionStatus.INERROR:
        raise TransactionAborted(
            "the handler returned with its transaction aborted (a database error caught"
            " without a savepoint); its effect was rolled back"
        )


class Applier:
    def __init__(
        self,
        pool: ConnectionPool,
        handler: Handler,
        group: str,
        *,
        per_batch: bool,
        handler_transactions: bool = False,
        concurrency: int = 1,
        in_place_delays: Sequence[float] = (0.05, 0.25),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pool = pool
        self.handler = handler
        self.group = group
        self.per_batch = per_batch
        self.handler_transactions = handler_transactions
        self.lanes = Lanes(pool, concurrency, group) if concurrency > 1 else None
        self.in_place_delays = tuple(in_place_delays)
        self.sleep = sleep

    def apply(self, outcomes: Sequence[Outcome], *, stopping: Callable[[], bool] = _never) -> None:
        """Apply the pending outcomes. Concurrent lanes start no record once ``stopping`` says
        so and mark the rest ``deferred``; the sequential strategies apply the whole batch."""
        pending = [outcome for outcome in outcomes if outcome.pending]
        if not pending:
            return
        try:
            if self.lanes is not None:
                self.lanes.run(pending, self._apply_unwrapped, stopping)
                return
            with self.pool.connection(timeout=10) as conn:
                if self.handler_transactions:
                    self._apply_unwrapped(conn, pending)
                    return
                if not self.per_batch:
                    for outcome in pending:
                        self._apply_one(conn, outcome)
                        self._count(outcome)
                    return
                if not self._fast_path(conn, pending):
                    with conn.transaction():
                        for outcome in pending:
                            self._apply_one(conn, outcome)
                for outcome in pending:
                    self._count(outcome)
        except DatabaseUnavailable:
            raise
        except Exception as error:
            if connection_lost(error):
                raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
            raise

    def _fast_path(self, conn: Connection, pending: list[Outcome]) -> bool:
        try:
            with conn.transaction():
                ids = [outcome.envelope.id for outcome in pending if outcome.envelope]
                fresh = {row[0] for row in conn.execute(_INBOX_MANY, (self.group, ids))}
                new: list[Envelope] = []
                for outcome in pending:
                    assert outcome.envelope is not None
                    if outcome.envelope.id not in fresh:
                        outcome.duplicate = True
                        continue
                    fresh.discard(outcome.envelope.id)  # the same event twice in one batch
                    new.append(outcome.envelope)
                if isinstance(self.handler, Batched):
                    if new:
                        self.handler.apply_batch(conn, new)
                        require_healthy(conn)
                else:
                    for envelope in new:
                        self.handler(conn, envelope)
                        require_healthy(conn)
        except Exception as error:
            for outcome in pending:
                outcome.duplicate = False  # rolled back: nothing is known yet
            if connection_lost(error, conn):
                raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
            log.info("batch_fallback", group=self.group, error_type=type(error).__name__)
            return False
        return True

    def close(self) -> None:
        if self.lanes is not None:
            self.lanes.close()

    def _apply_unwrapped(
        self, conn: Connection, pending: Sequence[Outcome], stopping: Callable[[], bool] = _never
    ) -> None:
        conn.autocommit = True
        try:
            for index, outcome in enumerate(pending):
                if stopping():
                    defer(pending[index:])
                    return
                self._apply_one(conn, outcome, wrapped=False)
                self._count(outcome)
        finally:
            if not conn.broken:
                conn.autocommit = False

    def _attempt(self, conn: Connection, envelope: Envelope, *, wrapped: bool) -> bool:
        """Run the handler once; False when the inbox already had the event."""
        if not wrapped:
            if conn.execute(_INBOX_SEEN, (self.group, envelope.id)).fetchone() is not None:
                return False
            self.handler(conn, envelope)
            conn.execute(_INBOX_ONE, (self.group, envelope.id))
            return True
        with conn.transaction():
            if conn.execute(_INBOX_ONE, (self.group, envelope.id)).fetchone() is None:
                return False
            self.handler(conn, envelope)
            require_healthy(conn)
        return True

    def _apply_one(self, conn: Connection, outcome: Outcome, *, wrapped: bool = True) -> None:
        envelope = outcome.envelope
        assert envelope is not None
        for attempt in range(len(self.in_place_delays) + 1):
            try:
                outcome.duplicate = not self._attempt(conn, envelope, wrapped=wrapped)
                return
            except Exception as error:
                disposition = classify(error)
                if disposition is Disposition.DATABASE_LOST or connection_lost(error, conn):
                    raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
                if disposition is Disposition.RETRY_IN_PLACE and attempt < len(
                    self.in_place_delays
                ):
                    log.info(
                        "handler_retried_in_place",
                        group=self.group,
                        event_id=envelope.id,
                        error_type=type(error).__name__,
                        attempt=attempt + 1,
                    )
                    self.sleep(self.in_place_delays[attempt])
                    continue
                self._fail(outcome, envelope, error, disposition)
                return

    def _fail(
        self, outcome: Outcome, envelope: Envelope, error: Exception, disposition: Disposition
    ) -> None:
        kind = "invalid" if disposition is Disposition.DEAD_LETTER else "retryable"
        outcome.failure = Failure(kind, error)
        log.warning(
            "handler_failed",
            group=self.group,
            event_id=envelope.id,
            event_type=envelope.type,
            error_type=type(error).__name__,
            error=str(error),
            route=kind,
            # an expected failure needs no traceback; anything else does
            exc_info=not isinstance(error, RetryableError | TransactionAborted)
            and disposition is not Disposition.DEAD_LETTER,
        )

    def _count(self, outcome: Outcome) -> None:
        if outcome.failure is not None:
            return
        counter = metrics.DUPLICATES if outcome.duplicate else metrics.PROCESSED
        counter.labels(self.group, outcome.record.topic).inc()

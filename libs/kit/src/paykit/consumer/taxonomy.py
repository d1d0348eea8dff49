"""What a failure means for the record that caused it.

``psycopg.OperationalError`` covers both "the server is gone" and "this statement lost a
deadlock", so the class alone cannot say whether to crash, retry or dead-letter. The SQLSTATE can:

- dead-letter, the same input fails the same way every time: ``InvalidMessage``, data
  exceptions (22), integrity violations (23), syntax or undefined objects (42), features not
  supported (0A), a value the client refused to send;
- retry in place, then the retry tiers: serialization failures (40001), deadlocks (40P01),
  lock timeouts (55P03), statement timeouts (57014), out of resources (53);
- hold the consumer, reconnect with back-off, redo the batch: connection exceptions (08), the
  server shutting down (57P01-57P03), an operational error the client raised without SQLSTATE
  (the connection broke), the pool timing out;
- anything else, ``RetryableError`` included: the retry tiers, then the DLQ.
"""

from __future__ import annotations

import enum

import psycopg
from psycopg_pool import PoolTimeout

from paykit.consumer.errors import DatabaseUnavailable, InvalidMessage

_DETERMINISTIC_CLASSES = frozenset({"22", "23", "42", "0A"})
_TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03", "57014"})
_TRANSIENT_CLASSES = frozenset({"40", "53"})
_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})


class Disposition(enum.Enum):
    DEAD_LETTER = "dead_letter"
    RETRY_IN_PLACE = "retry_in_place"
    RETRY_LATER = "retry_later"
    DATABASE_LOST = "database_lost"


def classify(error: BaseException) -> Disposition:
    if isinstance(error, InvalidMessage):
        return Disposition.DEAD_LETTER
    if isinstance(error, DatabaseUnavailable | PoolTimeout | psycopg.InterfaceError):
        return Disposition.DATABASE_LOST
    if not isinstance(error, psycopg.Error):
        return Disposition.RETRY_LATER
    state = error.sqlstate
    if state is None:  # raised by the client: a lost connection, or a value it refused to send
        if isinstance(error, psycopg.OperationalError):
            return Disposition.DATABASE_LOST
        if isinstance(error, psycopg.DataError | psycopg.ProgrammingError):
            return Disposition.DEAD_LETTER
        return Disposition.RETRY_LATER
    if state.startswith("08") or state in _SHUTDOWN_STATES:
        return Disposition.DATABASE_LOST
    if state in _TRANSIENT_STATES or state[:2] in _TRANSIENT_CLASSES:
        return Disposition.RETRY_IN_PLACE
    if state[:2] in _DETERMINISTIC_CLASSES:
        return Disposition.DEAD_LETTER
    return Disposition.RETRY_LATER


def connection_lost(error: BaseException, conn: psycopg.Connection[object] | None = None) -> bool:
    """True when ``error`` means the database is unreachable rather than the record is at fault."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    return classify(error) is Disposition.DATABASE_LOST

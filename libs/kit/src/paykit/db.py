"""PostgreSQL access for services: one pool per process, transactions as context managers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic
from weakref import WeakKeyDictionary

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

Connection = psycopg.Connection[TupleRow]


IDLE_BEFORE_PING_SECONDS = 1.0
"""A connection back in the pool for longer than this is pinged before it is handed out."""


class PingWhenIdle:
    """The pool's checkout check, paid only by connections that have sat idle.

    Pinging every connection on checkout costs a round trip per transaction (15% of a busy API
    worker's time). A connection that finished a transaction within the last second almost
    certainly still works; one idle for longer may have been cut (a database restart, a proxy's
    idle timeout) and is pinged, and replaced when the ping fails. The rare connection that
    breaks within that second fails its own transaction, whose caller gets an error answer, and
    the pool replaces it when it comes back broken.
    """

    def __init__(self, idle_seconds: float = IDLE_BEFORE_PING_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._returned_at: WeakKeyDictionary[Connection, float] = WeakKeyDictionary()

    def check(self, conn: Connection) -> None:
        returned_at = self._returned_at.get(conn)
        if returned_at is None or monotonic() - returned_at > self.idle_seconds:
            ConnectionPool.check_connection(conn)

    def returned(self, conn: Connection) -> None:
        self._returned_at[conn] = monotonic()


def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str = "db",
    idle_before_ping: float = IDLE_BEFORE_PING_SECONDS,
) -> ConnectionPool:
    """A pool whose connections are pinged on checkout when they have sat idle for longer than
    ``idle_before_ping`` seconds; closing it is the caller's job."""
    checkout = PingWhenIdle(idle_before_ping)
    pool: ConnectionPool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=True,
        check=checkout.check,
        reset=checkout.returned,
    )
    return pool


def readiness_check(pool: ConnectionPool, *, timeout: float = 2.0) -> Callable[[], None]:
    """For ``/readyz``: raises unless the pool hands out a connection that answers in time."""

    def check() -> None:
        with pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    return check


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on any error."""
    with pool.connection() as conn, conn.transaction():
        yield conn

"""PostgreSQL access for services: one pool per process, transactions as context managers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

Connection = psycopg.Connection[TupleRow]


def create_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, name: str = "db"
) -> ConnectionPool:
    """A pool that opens lazily-checked connections; closing it is the caller's job."""
    pool: ConnectionPool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=True,
        check=ConnectionPool.check_connection,
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

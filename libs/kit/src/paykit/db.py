"""PostgreSQL access for services: one pool per process, transactions as context managers."""

from __future__ import annotations

from collections.abc import Iterator
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


@contextmanager
def transaction(pool: ConnectionPool) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on any error."""
    with pool.connection() as conn, conn.transaction():
        yield conn

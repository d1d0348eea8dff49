"""One pooled connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Self

from psycopg_pool import ConnectionPool

from paykit.db import Connection
from webhook_service.adapters.delivery_repository import PostgresDeliveryRepository
from webhook_service.adapters.event_outbox import PostgresEventOutbox


class PostgresUnitOfWork:
    """Rolls back whatever was not committed when the block ends, error or not.

    May be entered again after a block ends; each block takes its own connection from the pool.
    """

    deliveries: PostgresDeliveryRepository
    events: PostgresEventOutbox

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._conn: Connection | None = None
        self._resources = ExitStack()

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open")
        conn: Connection = self._resources.enter_context(self._pool.connection())
        self._conn = conn
        self.deliveries = PostgresDeliveryRepository(conn)
        self.events = PostgresEventOutbox(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        resources, self._resources = self._resources, ExitStack()
        with resources:
            if conn is not None and not conn.closed:
                conn.rollback()

    def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("commit outside a unit of work")
        self._conn.commit()

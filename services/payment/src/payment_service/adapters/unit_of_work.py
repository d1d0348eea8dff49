"""The unit of work over one PostgreSQL transaction, and the factory that opens them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg_pool import ConnectionPool

from payevents import Envelope
from payevents.topics import PAYMENT_EVENTS
from paykit.db import Connection
from paykit.outbox import enqueue
from payment_service.adapters.idempotency_repository import PostgresIdempotency
from payment_service.adapters.payments_repository import PostgresPayments, PostgresRefunds
from payment_service.adapters.reports_repository import PostgresReports
from payment_service.service_layer.unit_of_work import Transactions, UnitOfWork


class PostgresUnitOfWork:
    """Repositories over ``conn``, whose transaction the caller commits or rolls back."""

    def __init__(self, conn: Connection, *, lock_timeout_ms: int = 5000) -> None:
        self.conn = conn
        self.payments = PostgresPayments(conn)
        self.refunds = PostgresRefunds(conn)
        self.reports = PostgresReports(conn)
        self.idempotency = PostgresIdempotency(conn, lock_timeout_ms)

    def publish(self, envelope: Envelope) -> None:
        enqueue(self.conn, envelope, topic=PAYMENT_EVENTS.name, key=envelope.subject)


def pooled_transactions(pool: ConnectionPool, *, lock_timeout_ms: int = 5000) -> Transactions:
    """Each block gets a pooled connection in a transaction, committed when the block ends."""

    @contextmanager
    def transaction() -> Iterator[UnitOfWork]:
        with pool.connection() as conn, conn.transaction():
            yield PostgresUnitOfWork(conn, lock_timeout_ms=lock_timeout_ms)

    return transaction

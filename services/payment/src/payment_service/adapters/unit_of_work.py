"""The unit of work over one PostgreSQL transaction, and the factory that opens them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg.pq import TransactionStatus
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
    """Each block gets a pooled connection in a transaction, committed when the block ends.

    The transaction runs in pipeline mode: statements whose answer the code does not read are
    sent without waiting, with the next one it does read or with the COMMIT. A create then costs
    three round trips instead of eleven: BEGIN up to the idempotency claim's answer, the
    payment's INSERT (its ``created_at`` is read back), and the outbox row, the stored response
    and COMMIT together. An error in a statement sent ahead is raised at the next answer read,
    at the latest with the COMMIT's, so nothing commits past it and the block rolls back.

    BEGIN and COMMIT are sent as plain statements on a connection in autocommit mode: psycopg's
    own transaction handling would wait for each of their answers on its own round trip.
    """

    @contextmanager
    def transaction() -> Iterator[UnitOfWork]:
        with pool.connection() as conn:
            conn.autocommit = True
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    yield PostgresUnitOfWork(conn, lock_timeout_ms=lock_timeout_ms)
                    conn.execute("COMMIT")
            except BaseException:
                _roll_back(conn)
                raise
            finally:
                if conn.pgconn.transaction_status == TransactionStatus.IDLE:
                    conn.autocommit = False

    return transaction


def _roll_back(conn: Connection) -> None:
    """End a transaction the block left open or failed; a broken connection the pool replaces."""
    if conn.pgconn.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")

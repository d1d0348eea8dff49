"""PostgreSQL repositories and the unit of work over one open transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from payevents import Envelope
from payevents.topics import PAYMENT_EVENTS
from paykit.db import Connection
from paykit.outbox import enqueue
from payment_service.domain.idempotency import StoredResponse
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer.unit_of_work import (
    IdempotencyRecord,
    PaymentQuery,
    RequestInFlight,
)

PAYMENT_COLUMNS = (
    "id, merchant_id, amount, currency, payment_method, status, description, metadata,"
    " refunded_amount, pending_refund_amount, psp_reference, failure_code, failure_message,"
    " created_at, updated_at"
)
REFUND_COLUMNS = (
    "id, payment_id, merchant_id, amount, currency, status, reason, psp_reference,"
    " failure_code, failure_message, created_at, updated_at"
)


def _payment(row: dict[str, Any]) -> Payment:
    return Payment(**{**row, "status": PaymentStatus(row["status"])})


def _refund(row: dict[str, Any]) -> Refund:
    return Refund(**{**row, "status": RefundStatus(row["status"])})


class PostgresPayments:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, query: str, params: Sequence[Any]) -> Payment | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(query.encode(), params).fetchone()
        return _payment(row) if row else None

    def add(self, payment: Payment) -> None:
        row = self.conn.execute(
            "INSERT INTO payments (id, merchant_id, amount, currency, payment_method, status,"
            " description, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING created_at, updated_at",
            (
                payment.id,
                payment.merchant_id,
                payment.amount,
                payment.currency,
                payment.payment_method,
                payment.status.value,
                payment.description,
                Jsonb(payment.metadata),
            ),
        ).fetchone()
        assert row is not None
        payment.created_at, payment.updated_at = row

    def get(self, payment_id: str) -> Payment | None:
        return self._one(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s", (payment_id,))

    def get_for_update(self, payment_id: str) -> Payment | None:
        return self._one(
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = %s FOR UPDATE", (payment_id,)
        )

    def save(self, payment: Payment) -> None:
        row = self.conn.execute(
            "UPDATE payments SET status = %s, refunded_amount = %s, pending_refund_amount = %s,"
            " psp_reference = %s, failure_code = %s, failure_message = %s, updated_at = now()"
            " WHERE id = %s RETURNING updated_at",
            (
                payment.status.value,
                payment.refunded_amount,
                payment.pending_refund_amount,
                payment.psp_reference,
                payment.failure_code,
                payment.failure_message,
                payment.id,
            ),
        ).fetchone()
        assert row is not None
        payment.updated_at = row[0]

    def search(self, query: PaymentQuery) -> list[Payment]:
        clauses: list[str] = ["merchant_id = %s"]
        params: list[Any] = [query.merchant_id]
        if query.status is not None:
            clauses.append("status = %s")
            params.append(query.status.value)
        if query.created_gte is not None:
            clauses.append("created_at >= %s")
            params.append(query.created_gte)
        if query.created_lt is not None:
            clauses.append("created_at < %s")
            params.append(query.created_lt)
        if query.after is not None:
            clauses.append("(created_at, id) < (%s, %s)")
            params.extend(query.after)
        sql = (
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE {' AND '.join(clauses)}"
            " ORDER BY created_at DESC, id DESC LIMIT %s"
        )
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(sql.encode(), [*params, query.limit]).fetchall()
        return [_payment(row) for row in rows]

    def unsettled(
        self, status: PaymentStatus, older_than_seconds: float, limit: int
    ) -> list[Payment]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE status = %s"
                " AND updated_at < now() - make_interval(secs => %s)"
                " ORDER BY updated_at LIMIT %s FOR UPDATE SKIP LOCKED".encode(),
                (status.value, older_than_seconds, limit),
            ).fetchall()
        return [_payment(row) for row in rows]


class PostgresRefunds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, query: str, params: Sequence[Any]) -> Refund | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(query.encode(), params).fetchone()
        return _refund(row) if row else None

    def add(self, refund: Refund) -> None:
        row = self.conn.execute(
            "INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING created_at, updated_at",
            (
                refund.id,
                refund.payment_id,
                refund.merchant_id,
                refund.amount,
                refund.currency,
                refund.status.value,
                refund.reason,
            ),
        ).fetchone()
        assert row is not None
        refund.created_at, refund.updated_at = row

    def get_for_update(self, refund_id: str) -> Refund | None:
        return self._one(
            f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s FOR UPDATE", (refund_id,)
        )

    def find_for_update_by_psp_reference(self, psp_reference: str) -> Refund | None:
        return self._one(
            f"SELECT {REFUND_COLUMNS} FROM refunds WHERE psp_reference = %s FOR UPDATE",
            (psp_reference,),
        )

    def save(self, refund: Refund) -> None:
        self.conn.execute(
            "UPDATE refunds SET status = %s, psp_reference = %s, failure_code = %s,"
            " failure_message = %s, updated_at = now() WHERE id = %s",
            (
                refund.status.value,
                refund.psp_reference,
                refund.failure_code,
                refund.failure_message,
                refund.id,
            ),
        )

    def for_payment(self, payment_id: str) -> list[Refund]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = %s"
                " ORDER BY created_at, id".encode(),
                (payment_id,),
            ).fetchall()
        return [_refund(row) for row in rows]


class PostgresIdempotency:
    def __init__(self, conn: Connection, lock_timeout_ms: int) -> None:
        self.conn = conn
        self.lock_timeout_ms = lock_timeout_ms

    def claim(self, merchant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        # A concurrent request holding the same key makes this INSERT wait for its transaction:
        # it then sees that request's stored response, or gives up after the lock timeout.
        self.conn.execute(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}".encode())
        try:
            with self.conn.transaction():
                inserted = self.conn.execute(
                    "INSERT INTO idempotency_keys (merchant_id, key, fingerprint)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                    (merchant_id, key, fingerprint),
                ).fetchone()
        except psycopg.errors.LockNotAvailable as busy:
            raise RequestInFlight(key) from busy
        finally:
            self.conn.execute(b"SET LOCAL lock_timeout = 0")
        if inserted:
            return None
        row = self.conn.execute(
            "SELECT fingerprint, response_status, response_body FROM idempotency_keys"
            " WHERE merchant_id = %s AND key = %s",
            (merchant_id, key),
        ).fetchone()
        if row is None:  # pruned between the two statements: treat as in flight, retry later
            raise RequestInFlight(key)
        response = StoredResponse(row[1], row[2]) if row[1] is not None else None
        return IdempotencyRecord(row[0], response)

    def complete(self, merchant_id: str, key: str, response: StoredResponse) -> None:
        self.conn.execute(
            "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
            " WHERE merchant_id = %s AND key = %s",
            (response.status, Jsonb(response.body), merchant_id, key),
        )

    def prune(self, older_than_hours: float) -> int:
        return self.conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
            (older_than_hours,),
        ).rowcount


class PostgresUnitOfWork:
    """Repositories over ``conn``, whose transaction the caller commits or rolls back."""

    def __init__(self, conn: Connection, *, lock_timeout_ms: int = 5000) -> None:
        self.conn = conn
        self.payments = PostgresPayments(conn)
        self.refunds = PostgresRefunds(conn)
        self.idempotency = PostgresIdempotency(conn, lock_timeout_ms)

    def publish(self, envelope: Envelope) -> None:
        enqueue(self.conn, envelope, topic=PAYMENT_EVENTS.name, key=envelope.subject)

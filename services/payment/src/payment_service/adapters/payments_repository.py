"""Payments and refunds in PostgreSQL: plain, parameterised SQL over the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from paykit.db import Connection
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.recheck import Recheck
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer.unit_of_work import PaymentQuery

PAYMENT_COLUMNS = (
    "id, merchant_id, amount, currency, payment_method, status, description, metadata,"
    " refunded_amount, pending_refund_amount, psp_reference, failure_code, failure_message,"
    " next_check_at, check_attempts, created_at, updated_at"
)
REFUND_COLUMNS = (
    "id, payment_id, merchant_id, amount, currency, status, reason, psp_reference,"
    " failure_code, failure_message, next_check_at, check_attempts, created_at, updated_at"
)


def _recheck(row: dict[str, Any]) -> Recheck:
    return Recheck(row.pop("next_check_at"), row.pop("check_attempts"))


def _payment(row: dict[str, Any]) -> Payment:
    recheck = _recheck(row)
    return Payment(**{**row, "status": PaymentStatus(row["status"]), "recheck": recheck})


def _refund(row: dict[str, Any]) -> Refund:
    recheck = _recheck(row)
    return Refund(**{**row, "status": RefundStatus(row["status"]), "recheck": recheck})


def _due(conn: Connection, table: str, now: datetime, limit: int) -> list[str]:
    rows = conn.execute(
        f"SELECT id FROM {table} WHERE next_check_at <= %s"  # table: one of two literals
        " ORDER BY next_check_at, id LIMIT %s".encode(),
        (now, limit),
    ).fetchall()
    return [row[0] for row in rows]


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
            " description, metadata, next_check_at, check_attempts)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING created_at, updated_at",
            (
                payment.id,
                payment.merchant_id,
                payment.amount,
                payment.currency,
                payment.payment_method,
                payment.status.value,
                payment.description,
                Jsonb(payment.metadata),
                payment.recheck.due_at,
                payment.recheck.attempts,
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
            " psp_reference = %s, failure_code = %s, failure_message = %s,"
            " next_check_at = %s, check_attempts = %s, updated_at = now()"
            " WHERE id = %s RETURNING updated_at",
            (
                payment.status.value,
                payment.refunded_amount,
                payment.pending_refund_amount,
                payment.psp_reference,
                payment.failure_code,
                payment.failure_message,
                payment.recheck.due_at,
                payment.recheck.attempts,
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

    def due_for_recheck(self, now: datetime, limit: int) -> list[str]:
        return _due(self.conn, "payments", now, limit)


class PostgresRefunds:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, query: str, params: Sequence[Any]) -> Refund | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(query.encode(), params).fetchone()
        return _refund(row) if row else None

    def add(self, refund: Refund) -> None:
        row = self.conn.execute(
            "INSERT INTO refunds (id, payment_id, merchant_id, amount, currency, status, reason,"
            " next_check_at, check_attempts)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING created_at, updated_at",
            (
                refund.id,
                refund.payment_id,
                refund.merchant_id,
                refund.amount,
                refund.currency,
                refund.status.value,
                refund.reason,
                refund.recheck.due_at,
                refund.recheck.attempts,
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
            " failure_message = %s, next_check_at = %s, check_attempts = %s, updated_at = now()"
            " WHERE id = %s",
            (
                refund.status.value,
                refund.psp_reference,
                refund.failure_code,
                refund.failure_message,
                refund.recheck.due_at,
                refund.recheck.attempts,
                refund.id,
            ),
        )

    def for_payment(
        self, payment_id: str, *, after: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[Refund]:
        page = " AND (created_at, id) > (%s, %s)" if after else ""
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = %s{page}"
                " ORDER BY created_at, id LIMIT %s".encode(),
                (payment_id, *(after or ()), limit),
            ).fetchall()
        return [_refund(row) for row in rows]

    def due_for_recheck(self, now: datetime, limit: int) -> list[str]:
        return _due(self.conn, "refunds", now, limit)

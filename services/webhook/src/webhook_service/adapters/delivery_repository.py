"""The delivery log in PostgreSQL (table ``webhook_deliveries``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from paykit.db import Connection
from webhook_service.domain.deliveries import Delivery, DeliveryFilters, EmittedEvent, Verdict
from webhook_service.domain.notifications import (
    NOTIFICATION_FIELDS,
    PspNotification,
    notification_facts,
)
from webhook_service.domain.payout_notifications import (
    Notification,
    is_payout_type,
    parse_payout_notification,
)

_REASON_DETAIL_MAX: Final = 1000
# A stored authentic body passed the intake's depth limit; this only bounds reading it back.
_STORED_DEPTH: Final = 64
_WRITTEN: Final = (
    "id", "received_at", "verdict", "reason", "reason_detail", "psp_event_id", "psp_event_type",
    "payment_id", "refund_id", "status", "amount", "currency", "psp_reference", "failure_code",
    "batch_id", "signed_at", "event_id_derived", "request_id", "headers", "body", "body_size",
    "body_sha256", "source_address", "event_id", "event_type", "event_value",
)  # fmt: skip
_INSERT: Final = sql.SQL("INSERT INTO webhook_deliveries ({columns}) VALUES ({values})").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, _WRITTEN)),
    values=sql.SQL(", ").join(map(sql.Placeholder, _WRITTEN)),
)
_SELECT: Final = sql.SQL("SELECT seq, {columns} FROM webhook_deliveries").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, _WRITTEN))
)
_FILTER_COLUMNS: Final = ("verdict", "reason", "psp_event_id", "payment_id")


class PostgresDeliveryRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_accepted(self, delivery: Delivery) -> bool:
        query = sql.SQL(
            "{insert} ON CONFLICT (psp_event_id) WHERE verdict = 'accepted' DO NOTHING RETURNING id"
        ).format(insert=_INSERT)
        return self._conn.execute(query, _row(delivery)).fetchone() is not None

    def add(self, delivery: Delivery) -> None:
        self._conn.execute(_INSERT, _row(delivery))

    def get(self, delivery_id: str, *, for_update: bool = False) -> Delivery | None:
        query = sql.SQL("{select} WHERE id = %s{lock}").format(
            select=_SELECT, lock=sql.SQL(" FOR UPDATE" if for_update else "")
        )
        with self._conn.cursor(row_factory=dict_row) as cursor:
            found = cursor.execute(query, (delivery_id,)).fetchone()
        return None if found is None else _delivery(found)

    def list(
        self, filters: DeliveryFilters, *, limit: int, after_seq: int | None
    ) -> list[Delivery]:
        conditions: list[sql.Composable] = []
        params: list[Any] = []
        for column in _FILTER_COLUMNS:
            value = getattr(filters, column)
            if value is not None:
                conditions.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value.value if isinstance(value, Verdict) else value)
        if filters.received_from is not None:
            conditions.append(sql.SQL("received_at >= %s"))
            params.append(filters.received_from)
        if filters.received_before is not None:
            conditions.append(sql.SQL("received_at < %s"))
            params.append(filters.received_before)
        if after_seq is not None:
            conditions.append(sql.SQL("seq < %s"))
            params.append(after_seq)
        where = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")
        query = sql.SQL("{select} WHERE {where} ORDER BY seq DESC LIMIT %s").format(
            select=_SELECT, where=where
        )
        with self._conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(query, [*params, limit]).fetchall()
        return [_delivery(row) for row in rows]

    def remove_rejected(self, received_before: datetime, *, limit: int) -> int:
        return self._conn.execute(
            """
            DELETE FROM webhook_deliveries WHERE id IN (
                SELECT id FROM webhook_deliveries
                 WHERE verdict = 'rejected' AND received_at < %s
                 ORDER BY received_at LIMIT %s FOR UPDATE SKIP LOCKED)
            """,
            (received_before, limit),
        ).rowcount


def _row(delivery: Delivery) -> dict[str, Any]:
    detail = delivery.reason_detail
    event = delivery.event
    return {
        "id": delivery.id,
        "received_at": delivery.received_at,
        "verdict": delivery.verdict.value,
        "reason": delivery.reason,
        "reason_detail": None if detail is None else detail[:_REASON_DETAIL_MAX],
        **notification_facts(delivery.notification),  # stored under their own names
        "signed_at": delivery.signed_at,
        "request_id": delivery.request_id,
        "headers": Jsonb(dict(delivery.headers)),
        "body": delivery.body,
        "body_size": delivery.body_size,
        "body_sha256": delivery.body_sha256,
        "source_address": delivery.source_address,
        "event_id": None if event is None else event.id,
        "event_type": None if event is None else event.type,
        "event_value": None if event is None else event.value,
    }


def _delivery(row: dict[str, Any]) -> Delivery:
    verdict = Verdict(row["verdict"])
    notification = None if verdict is Verdict.REJECTED else _notification(row)
    event = None
    if row["event_id"] is not None:
        event = EmittedEvent(row["event_id"], row["event_type"], bytes(row["event_value"]))
    return Delivery(
        id=row["id"],
        received_at=row["received_at"],
        verdict=verdict,
        request_id=row["request_id"],
        headers=row["headers"],
        body=None if row["body"] is None else bytes(row["body"]),
        body_size=row["body_size"],
        body_sha256=row["body_sha256"],
        source_address=row["source_address"],
        reason=row["reason"],
        reason_detail=row["reason_detail"],
        signed_at=row["signed_at"],
        notification=notification,
        event=event,
        seq=row["seq"],
    )


def _notification(row: dict[str, Any]) -> Notification:
    if is_payout_type(row["psp_event_type"]):
        # It parsed when it came in, so the stored bytes parse again: the body is the record.
        return parse_payout_notification(bytes(row["body"]), max_depth=_STORED_DEPTH)
    return PspNotification(**{name: row[name] for name in NOTIFICATION_FIELDS})

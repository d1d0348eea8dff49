"""SQL for the per-endpoint queues: messages, their attempts, and claiming work without waiting.

Claiming is one short transaction that takes due messages of enabled endpoints, at most
``per_endpoint`` in flight per endpoint counting those already out, marks each leased and
writes an ``in_flight`` attempt, and commits before any call is made. A dispatcher that dies
mid-call leaves the lease to run out; the message is then due again (same ``webhook-id``) and
its orphaned attempt is marked ``abandoned``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg.rows import dict_row

from paykit.db import Connection
from webhook_service.domain.endpoints import Attempt, Message, MessageState

WAKE_CHANNEL: Final = "webhook_messages"
_MESSAGE_COLUMNS: Final = (
    "id, endpoint_id, event_id, event_type, state, attempts, created_at, next_attempt_at,"
    " last_attempt_at, delivered_at"
)
_ATTEMPT_COLUMNS: Final = (
    "id, message_id, endpoint_id, event_type, number, started_at, outcome, http_status,"
    " latency_ms, error, response_excerpt, seq"
)


@dataclass(frozen=True)
class ClaimedAttempt:
    """What one call needs, read in the claiming transaction."""

    attempt_id: str
    message_id: str
    endpoint_id: str
    url: str
    payload: bytes
    number: int
    series_started_at: datetime
    series_attempts: int  # including this one


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    http_status: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None


def _message(row: dict[str, Any]) -> Message:
    return Message(**{**row, "state": MessageState(row["state"])})


class MessageRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, params).fetchall()

    def add(
        self,
        *,
        message_id: str,
        endpoint_id: str,
        event_id: str,
        event_type: str,
        payload: bytes,
        held: bool,
        now: datetime,
    ) -> bool:
        """Queue one event for one endpoint, once: False when it was queued before."""
        cursor = self._conn.execute(
            "INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, state,"
            " series_started_at, next_attempt_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                message_id,
                endpoint_id,
                event_id,
                event_type,
                payload,
                MessageState.HELD if held else MessageState.PENDING,
                now,
                None if held else now,
                now,
            ),
        )
        if cursor.rowcount and not held:
            self._conn.execute(f"NOTIFY {WAKE_CHANNEL}")
        return cursor.rowcount == 1

    def claim(self, *, limit: int, per_endpoint: int, lease: timedelta) -> list[ClaimedAttempt]:
        rows = self._rows(
            """
            WITH in_flight AS (
                SELECT endpoint_id, count(*) AS n FROM webhook_messages
                WHERE lease_until > now() GROUP BY endpoint_id
            ), due AS (
                SELECT m.id, m.next_attempt_at, row_number() OVER (
                    PARTITION BY m.endpoint_id ORDER BY m.next_attempt_at, m.id
                ) + coalesce(f.n, 0) AS slot
                FROM webhook_messages m
                JOIN webhook_endpoints e ON e.id = m.endpoint_id AND e.enabled
                LEFT JOIN in_flight f ON f.endpoint_id = m.endpoint_id
                WHERE m.state = 'pending' AND m.next_attempt_at <= now()
                  AND (m.lease_until IS NULL OR m.lease_until <= now())
            ), chosen AS (
                SELECT id FROM webhook_messages
                WHERE id IN (
                    SELECT id FROM due WHERE slot <= %(per_endpoint)s
                    ORDER BY next_attempt_at, id LIMIT %(limit)s
                )
                AND state = 'pending' AND (lease_until IS NULL OR lease_until <= now())
                FOR UPDATE SKIP LOCKED
            ), abandoned AS (
                UPDATE webhook_attempts SET outcome = 'abandoned', error = 'dispatcher_stopped'
                WHERE message_id IN (SELECT id FROM chosen) AND outcome = 'in_flight'
            )
            UPDATE webhook_messages m
            SET lease_until = now() + %(lease)s, attempts = m.attempts + 1,
                series_attempts = m.series_attempts + 1, last_attempt_at = now()
            FROM chosen, webhook_endpoints e
            WHERE m.id = chosen.id AND e.id = m.endpoint_id
            RETURNING m.id AS message_id, m.endpoint_id, e.url, m.payload, m.event_type,
                      m.attempts AS number, m.series_started_at, m.series_attempts
            """,
            {"per_endpoint": per_endpoint, "limit": limit, "lease": lease},
        )
        claimed: list[ClaimedAttempt] = []
        for row in rows:
            attempt_id = f"att_{secrets.token_hex(12)}"
            self._conn.execute(
                "INSERT INTO webhook_attempts"
                " (id, message_id, endpoint_id, event_type, number, started_at, outcome)"
                " VALUES (%s, %s, %s, %s, %s, now(), 'in_flight')",
                (
                    attempt_id,
                    row["message_id"],
                    row["endpoint_id"],
                    row["event_type"],
                    row["number"],
                ),
            )
            row.pop("event_type")
            claimed.append(ClaimedAttempt(attempt_id=attempt_id, **row))
        return claimed

    def record(
        self, claimed: ClaimedAttempt, result: AttemptResult, *, next_attempt_at: datetime | None
    ) -> None:
        """The answer of one call: the attempt's row, and the message delivered, due again or
        failed (``next_attempt_at`` None after a failure)."""
        self._conn.execute(
            "UPDATE webhook_attempts SET outcome = %s, http_status = %s, latency_ms = %s,"
            " error = %s, response_excerpt = %s WHERE id = %s",
            (
                "succeeded" if result.succeeded else "failed",
                result.http_status,
                result.latency_ms,
                result.error,
                result.response_excerpt,
                claimed.attempt_id,
            ),
        )
        if result.succeeded:
            state, due = MessageState.DELIVERED, None
        elif next_attempt_at is None:
            state, due = MessageState.FAILED, None
        else:
            state, due = MessageState.PENDING, next_attempt_at
        # A redelivery asked for while the call was out started a new series: it stands.
        self._conn.execute(
            "UPDATE webhook_messages SET lease_until = NULL,"
            " state = CASE WHEN series_started_at = %(series)s THEN %(state)s ELSE state END,"
            " next_attempt_at = CASE WHEN series_started_at = %(series)s THEN %(due)s"
            "                   ELSE next_attempt_at END,"
            " delivered_at = CASE WHEN %(ok)s THEN now() ELSE delivered_at END"
            " WHERE id = %(id)s",
            {
                "series": claimed.series_started_at,
                "state": state,
                "due": due,
                "ok": result.succeeded,
                "id": claimed.message_id,
            },
        )
        if result.succeeded:
            self._conn.execute(
                "UPDATE webhook_endpoints SET last_success_at = now() WHERE id = %s",
                (claimed.endpoint_id,),
            )

    def redeliver(
        self, endpoint_id: str, *, event_id: str | None, since: datetime | None, now: datetime
    ) -> int:
        """Start a new series of tries for one event, or for every event since a time."""
        cursor = self._conn.execute(
            "UPDATE webhook_messages SET state = 'pending', next_attempt_at = %(now)s,"
            " series_started_at = %(now)s, series_attempts = 0"
            " WHERE endpoint_id = %(endpoint)s"
            " AND (%(event)s::text IS NULL OR event_id = %(event)s)"
            " AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)",
            {"now": now, "endpoint": endpoint_id, "event": event_id, "since": since},
        )
        if cursor.rowcount:
            self._conn.execute(f"NOTIFY {WAKE_CHANNEL}")
        return cursor.rowcount

    def restart_pending(self, endpoint_id: str, now: datetime) -> None:
        """A re-enabled endpoint's waiting messages get a fresh horizon, due at once."""
        self._conn.execute(
            "UPDATE webhook_messages SET next_attempt_at = %s, series_started_at = %s,"
            " series_attempts = 0 WHERE endpoint_id = %s AND state = 'pending'",
            (now, now, endpoint_id),
        )
        self._conn.execute(f"NOTIFY {WAKE_CHANNEL}")

    def remove_finished(self, created_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` delivered, failed or held messages queued before then (their
        attempts with them), skipping rows another transaction holds; say how many went."""
        cursor = self._conn.execute(
            "DELETE FROM webhook_messages WHERE id IN ("
            " SELECT id FROM webhook_messages WHERE state <> 'pending' AND created_at < %s"
            " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
            (created_before, limit),
        )
        return cursor.rowcount

    def messages(
        self, endpoint_id: str, *, state: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Message]:
        rows = self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM webhook_messages WHERE endpoint_id = %(endpoint)s"
            " AND (%(state)s::text IS NULL OR state = %(state)s)"
            " AND (%(after_at)s::timestamptz IS NULL"
            "      OR (created_at, id) < (%(after_at)s, %(after_id)s))"
            " ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
            {
                "endpoint": endpoint_id,
                "state": state,
                "after_at": after[0] if after else None,
                "after_id": after[1] if after else None,
                "limit": limit,
            },
        )
        return [_message(row) for row in rows]

    def attempts(
        self, endpoint_id: str, *, message_id: str | None, before_seq: int | None, limit: int
    ) -> list[Attempt]:
        """The delivery log, newest first."""
        rows = self._rows(
            f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts WHERE endpoint_id = %(endpoint)s"
            " AND (%(message)s::text IS NULL OR message_id = %(message)s)"
            " AND (%(before)s::bigint IS NULL OR seq < %(before)s)"
            " ORDER BY seq DESC LIMIT %(limit)s",
            {"endpoint": endpoint_id, "message": message_id, "before": before_seq, "limit": limit},
        )
        return [Attempt(**row) for row in rows]

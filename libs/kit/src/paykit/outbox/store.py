"""The outbox table: what writers add, what the relay reads, marks and sets aside.

Every statement about the ``outbox`` table lives here, so the rule that keeps per-key order (a
quarantined row holds back every later row of its topic and key) is written once and shared by
the relay, its metrics and the operator's command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from payevents import Envelope, encode
from paykit.db import Connection

CHANNEL = "outbox"

# Row ``o`` waits while an earlier row of its topic and key sits in quarantine.
_HELD = (
    "EXISTS (SELECT 1 FROM outbox q WHERE q.quarantined_at IS NOT NULL"
    " AND q.topic = o.topic AND q.key = o.key AND q.id < o.id)"
)


def enqueue(conn: Connection, envelope: Envelope, *, topic: str, key: str | None = None) -> None:
    """Add ``envelope`` to the outbox inside the caller's open transaction."""
    enqueue_many(conn, [(envelope, topic, key)])


def enqueue_many(conn: Connection, events: Sequence[tuple[Envelope, str, str | None]]) -> None:
    """Add events (envelope, topic, key or None for the subject) in one statement, in order.

    The rows and the relay's wake-up call go in one round trip; the notification is delivered
    at commit and deduplicated by PostgreSQL within the transaction.
    """
    if not events:
        return
    ids: list[str] = []
    topics: list[str] = []
    keys: list[bytes] = []
    values: list[bytes] = []
    headers: list[str] = []
    for envelope, topic, key in events:
        value, encoded_headers = encode(envelope)
        ids.append(envelope.id)
        topics.append(topic)
        keys.append((key or envelope.subject).encode())
        values.append(value)
        headers.append(json.dumps([[name, raw.decode()] for name, raw in encoded_headers]))
    conn.execute(
        "WITH queued AS (INSERT INTO outbox (event_id, topic, key, value, headers)"
        " SELECT event_id, topic, key, value, headers::jsonb FROM unnest("
        "%b::text[], %b::text[], %b::bytea[], %b::bytea[], %b::text[]) WITH ORDINALITY"
        " AS u(event_id, topic, key, value, headers, n) ORDER BY n RETURNING 1)"
        " SELECT pg_notify(%s, '') FROM queued LIMIT 1",
        (ids, topics, keys, values, headers, CHANNEL),
    )


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def ordering_key(self) -> tuple[str, bytes]:
        """Rows sharing this keep their order: same topic, same Kafka key, same partition."""
        return (self.topic, self.key)


@dataclass(frozen=True)
class QuarantinedRow:
    id: int
    event_id: str
    topic: str
    key: bytes
    quarantined_at: datetime
    error: str
    held: int  # later unsent rows of the same topic and key waiting behind it


@dataclass(frozen=True)
class Backlog:
    unsent: int  # waiting to be published, including rows held behind a quarantined one
    quarantined: int
    held: int


def publishable(conn: Connection, limit: int) -> list[OutboxRow]:
    """The oldest unsent rows, in id order, that no quarantined row of their key holds back."""
    return [
        OutboxRow(id, event_id, topic, bytes(key), bytes(value), [(n, v.encode()) for n, v in hs])
        for id, event_id, topic, key, value, hs in conn.execute(
            "SELECT o.id, o.event_id, o.topic, o.key, o.value, o.headers FROM outbox o"
            f" WHERE o.sent_at IS NULL AND o.quarantined_at IS NULL AND NOT {_HELD}"
            " ORDER BY o.id LIMIT %s",
            (limit,),
        )
    ]


def mark_sent(conn: Connection, rows: Sequence[OutboxRow]) -> None:
    if rows:
        conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", ([row.id for row in rows],)
        )


def quarantine(conn: Connection, row: OutboxRow, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET quarantined_at = now(), quarantine_error = %s"
        " WHERE id = %s AND sent_at IS NULL",
        (error, row.id),
    )


def backlog(conn: Connection) -> Backlog:
    counts = conn.execute(
        "SELECT count(*) FILTER (WHERE quarantined_at IS NULL),"
        " count(*) FILTER (WHERE quarantined_at IS NOT NULL)"
        " FROM outbox WHERE sent_at IS NULL"
    ).fetchone()
    unsent, quarantined = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    held = 0
    if quarantined:
        row = conn.execute(
            "SELECT count(*) FROM outbox o WHERE o.sent_at IS NULL"
            f" AND o.quarantined_at IS NULL AND {_HELD}"
        ).fetchone()
        held = int(row[0]) if row else 0
    return Backlog(unsent, quarantined, held)


def quarantined(conn: Connection) -> list[QuarantinedRow]:
    return [
        QuarantinedRow(id, event_id, topic, bytes(key), at, error, held)
        for id, event_id, topic, key, at, error, held in conn.execute(
            "SELECT q.id, q.event_id, q.topic, q.key, q.quarantined_at, q.quarantine_error,"
            " (SELECT count(*) FROM outbox o WHERE o.sent_at IS NULL"
            "  AND o.quarantined_at IS NULL AND o.topic = q.topic AND o.key = q.key"
            "  AND o.id > q.id)"
            " FROM outbox q WHERE q.quarantined_at IS NOT NULL ORDER BY q.id"
        )
    ]


def requeue(conn: Connection, ids: Iterable[int] | None) -> list[int]:
    """Release quarantined rows (all of them when ``ids`` is None); return the ids released.

    The relay is woken at once; a released row goes out first, then the rows it held, in order.
    """
    release = (
        "UPDATE outbox SET quarantined_at = NULL, quarantine_error = NULL"
        " WHERE quarantined_at IS NOT NULL"
    )
    if ids is None:
        cursor = conn.execute(f"{release} RETURNING id")
    else:
        cursor = conn.execute(f"{release} AND id = ANY(%s) RETURNING id", (list(ids),))
    released = [int(row[0]) for row in cursor]
    if released:
        conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return sorted(released)


def prune(conn: Connection, older_than_seconds: float, *, chunk: int = 5000) -> int:
    """Delete rows sent longer ago than ``older_than_seconds``; unsent rows always stay.

    In chunks, so no statement outlasts the relay's statement timeout however much piled up.
    """
    total = 0
    while True:
        deleted = conn.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
            " WHERE sent_at < now() - make_interval(secs => %s) LIMIT %s)",
            (older_than_seconds, chunk),
        ).rowcount
        total += deleted
        if deleted < chunk:
            return total

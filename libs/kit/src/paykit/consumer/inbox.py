"""How long the inbox remembers an event, and the pruning that forgets it afterwards.

The inbox is what turns a redelivered event into a no-op, so a row may only go once no copy of
its event can come back: not from the main topic or a retry tier (Kafka keeps them
``TOPIC_RETENTION``), and not from the DLQ, whose letters can be replayed for
``DLQ_RETENTION``. ``INBOX_RETENTION`` is longer than both with a margin, and the local
cluster creates topics with exactly these retentions (``localcluster.topics``), so a letter
that can still be replayed always finds its inbox row. Pruning runs in the consumer's own loop,
in small chunks, so it never holds a long transaction or lock.
"""

from __future__ import annotations

from datetime import timedelta

from paykit.db import Connection

TOPIC_RETENTION = timedelta(days=7)
DLQ_RETENTION = timedelta(days=14)
INBOX_RETENTION = timedelta(days=30)
PRUNE_CHUNK = 5_000


def prune(
    conn: Connection, consumer: str, retention: timedelta = INBOX_RETENTION, *, chunks: int = 20
) -> int:
    """Remove up to ``chunks`` chunks of ``consumer``'s rows older than ``retention``."""
    removed = 0
    for _ in range(chunks):
        with conn.transaction():
            cursor = conn.execute(
                "DELETE FROM inbox WHERE (consumer, event_id) IN ("
                " SELECT consumer, event_id FROM inbox"
                " WHERE consumer = %s AND processed_at < now() - %s LIMIT %s)",
                (consumer, retention, PRUNE_CHUNK),
            )
        removed += cursor.rowcount
        if cursor.rowcount < PRUNE_CHUNK:
            break
    return removed

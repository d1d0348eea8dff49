"""A consumer whose DLQ limit tripped parks instead of exiting, and stays parked until resumed.

Exiting would not stop anything: the supervisor (or Kubernetes) restarts the process, it reads
the same uncommitted batch and dead-letters its first letters again, and so on. A parked
consumer stays in its group (so its partitions are not handed to a replica that would do the
same), consumes nothing, reports not ready with the reason, and checks now and then whether an
operator resumed it. The park lives in the service's database, so a restart, or another replica,
stays parked too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import ConnectionPool

from paykit.db import Connection


@dataclass(frozen=True)
class Park:
    consumer: str
    reason: str
    parked_at: datetime


def open_park(conn: Connection, consumer: str) -> Park | None:
    row = conn.execute(
        "SELECT consumer, reason, parked_at FROM consumer_parks"
        " WHERE consumer = %s AND resumed_at IS NULL",
        (consumer,),
    ).fetchone()
    return Park(row[0], row[1], row[2]) if row else None


def park(conn: Connection, consumer: str, reason: str) -> Park:
    """Record the park (idempotent: an open park stays as it was)."""
    conn.execute(
        "INSERT INTO consumer_parks (consumer, reason) VALUES (%s, %s)"
        " ON CONFLICT (consumer) WHERE resumed_at IS NULL DO NOTHING",
        (consumer, reason),
    )
    current = open_park(conn, consumer)
    assert current is not None
    return current


def resume(conn: Connection, consumer: str, resumed_by: str) -> Park | None:
    """Close the open park of ``consumer``; return it, or None when it was not parked."""
    row = conn.execute(
        "UPDATE consumer_parks SET resumed_at = now(), resumed_by = %s"
        " WHERE consumer = %s AND resumed_at IS NULL RETURNING consumer, reason, parked_at",
        (resumed_by, consumer),
    ).fetchone()
    return Park(row[0], row[1], row[2]) if row else None


def parks(conn: Connection) -> list[tuple[str, str, datetime, datetime | None, str | None]]:
    """Every park, newest first: (consumer, reason, parked_at, resumed_at, resumed_by)."""
    return [
        (r[0], r[1], r[2], r[3], r[4])
        for r in conn.execute(
            "SELECT consumer, reason, parked_at, resumed_at, resumed_by FROM consumer_parks"
            " ORDER BY id DESC LIMIT 100"
        )
    ]


class ParkStore:
    """The runtime's view of its group's park, through the consumer's own pool."""

    def __init__(self, pool: ConnectionPool, consumer: str) -> None:
        self.pool = pool
        self.consumer = consumer

    def current(self) -> Park | None:
        with self.pool.connection(timeout=5) as conn:
            return open_park(conn, self.consumer)

    def park(self, reason: str) -> Park:
        with self.pool.connection(timeout=5) as conn, conn.transaction():
            return park(conn, self.consumer, reason)

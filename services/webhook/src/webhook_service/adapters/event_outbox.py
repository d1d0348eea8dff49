"""Normalised webhook events into the kit's transactional outbox, bound for webhook-events."""

from __future__ import annotations

from payevents import Envelope
from payevents.topics import WEBHOOK_EVENTS
from paykit.db import Connection
from paykit.outbox import enqueue


class PostgresEventOutbox:
    """Every webhook event's subject is its payment id, which is also the topic's key."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, envelope: Envelope) -> None:
        enqueue(self._conn, envelope, topic=WEBHOOK_EVENTS.name, key=envelope.subject)

    def requeue(self, envelope: Envelope) -> bool:
        # The row of an earlier emission holds the event id (unique in the outbox): an unsent
        # one means the event is still on its way; a sent one is replaced by a fresh row, which
        # the relay publishes after everything already queued.
        waiting = self._conn.execute(
            "SELECT sent_at IS NULL FROM outbox WHERE event_id = %s FOR UPDATE", (envelope.id,)
        ).fetchone()
        if waiting is not None and waiting[0]:
            return False
        self._conn.execute("DELETE FROM outbox WHERE event_id = %s", (envelope.id,))
        self.add(envelope)
        return True

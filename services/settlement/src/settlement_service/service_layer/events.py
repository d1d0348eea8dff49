"""Building the settlement service's events and writing them to the outbox.

Every settlement event is keyed by merchant, so one merchant's closings, submissions and
outcomes reach the ledger in the order they happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payevents import Envelope, new_event
from payevents.topics import SETTLEMENT_EVENTS
from paykit.db import Connection
from paykit.outbox import enqueue

SOURCE = "settlement"


def publish(
    conn: Connection,
    event_type: str,
    data: Mapping[str, Any],
    *,
    causation: Envelope | None = None,
) -> Envelope:
    """Enqueue the event in the caller's transaction: it exists if and only if that commits."""
    clean = {key: value for key, value in data.items() if value is not None}
    merchant = str(clean["merchant_id"])
    envelope = new_event(event_type, clean, source=SOURCE, subject=merchant, causation=causation)
    enqueue(conn, envelope, topic=SETTLEMENT_EVENTS.name, key=merchant)
    return envelope

"""Transactional outbox: write an event with the state change, publish it afterwards.

``enqueue`` inserts the event in the caller's transaction, so the event exists if and only if
the change committed. ``OutboxRelay`` publishes unsent rows in id order, one Kafka transaction
per batch, and only then marks them sent. A relay killed between publishing and marking
publishes those rows again: duplicates, never losses; consumers drop duplicates by event id.
A row Kafka will never accept is quarantined and holds back only the later rows of its key
(``python -m paykit.outbox list-quarantined|requeue``).
"""

from paykit.outbox.relay import OutboxRelay
from paykit.outbox.store import CHANNEL, OutboxRow, enqueue, enqueue_many

__all__ = ["CHANNEL", "OutboxRelay", "OutboxRow", "enqueue", "enqueue_many"]

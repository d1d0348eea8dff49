"""From a platform event to one queued message per endpoint that wants it.

Runs inside the consumer runtime's transaction (database work only), so the messages and the
inbox row commit together: a redelivered event finds its inbox row and queues nothing twice,
and the messages' own key (endpoint, event) makes even a replay past the inbox harmless. The
HTTP calls happen later, in the dispatcher, never here: a slow merchant cannot slow the topic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from payevents import Envelope
from paykit.consumer import Handler, InvalidMessage
from paykit.db import Connection
from webhook_service.adapters.endpoint_repository import EndpointRepository
from webhook_service.adapters.message_repository import MessageRepository
from webhook_service.domain.endpoints import message_id
from webhook_service.domain.public_events import public_event


def queue_for_endpoints(conn: Connection, envelope: Envelope, now: datetime) -> int:
    """Queue the event for every endpoint of its merchant subscribed to it; say how many new."""
    try:
        event = public_event(envelope)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidMessage(f"{envelope.type} lacks what merchants are told: {error}") from None
    if event is None:
        return 0
    messages = MessageRepository(conn)
    queued = 0
    for endpoint in EndpointRepository(conn).subscribed(event.merchant_id, event.type):
        queued += messages.add(
            message_id=message_id(endpoint.id, event.id),
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=event.type,
            payload=event.body,
            held=not endpoint.enabled,
            now=now,
        )
    return queued


def merchant_notifier(clock: Callable[[], datetime]) -> Handler:
    def handle(conn: Connection, envelope: Envelope) -> None:
        queue_for_endpoints(conn, envelope, clock())

    return handle

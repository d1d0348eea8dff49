"""The envelope every event travels in, and the one way producers create events.

The envelope carries what infrastructure needs without reading ``data``: a unique id for inbox
dedupe, type and version to pick a schema, and correlation/causation ids to follow one merchant
request through every service it touches.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from payevents import fieldtypes as f
from payevents.errors import InvalidEvent, describe_messages, flatten_messages
from payevents.fieldtypes import StrictSchema
from payevents.registry import EventRegistry
from payevents.schemas import REGISTRY

EVENT_TYPE_PATTERN = r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+"


@dataclass(frozen=True)
class Envelope:
    """One event as consumers see it: always the newest version of its type.

    ``data`` holds JSON values only (timestamps as ISO 8601 strings), exactly what goes on the
    wire; load it with the type's schema when typed values are wanted.
    """

    id: str
    type: str
    version: int
    occurred_at: datetime
    source: str
    subject: str
    correlation_id: str
    causation_id: str | None
    data: dict[str, Any]

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))


class EnvelopeSchema(StrictSchema):
    """The envelope's own contract. It has no version, so any change to it is breaking."""

    id = f.identifier("Unique event id; consumers drop an id they have already processed.")
    type = f.Text(
        required=True,
        validate=f.FullMatch(EVENT_TYPE_PATTERN),
        metadata={"description": "Event type, <domain>.<fact>."},
    )
    version = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1),
        metadata={"description": "Version of the type's data schema."},
    )
    occurred_at = f.timestamp("When the fact happened, UTC.")
    source = f.identifier("The service that produced the event.")
    subject = f.identifier("What the event is about: a payment id or a merchant id.")
    correlation_id = f.identifier("Shared by every event caused by one original request.")
    causation_id = f.identifier("Id of the event that caused this one.", optional=True)
    data = fields.Dict(
        keys=f.Text(), required=True, metadata={"description": "The type's payload."}
    )


_ENVELOPE_SCHEMA = EnvelopeSchema()


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def new_correlation_id() -> str:
    return f"cor_{uuid.uuid4().hex}"


def new_event(
    type: str,
    data: Mapping[str, Any],
    *,
    source: str,
    subject: str,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    registry: EventRegistry = REGISTRY,
) -> Envelope:
    """Build an event of the newest version, refusing data its schema would reject.

    Validating here means a bad event fails in the request that made it, where the bug is, and
    never reaches the outbox. An event caused by another inherits its correlation id. Of the
    envelope, only what the caller gives (source, subject, correlation id) is checked: the rest
    is made here, valid by construction, which saves a third of the cost of a small event.
    """
    if causation is not None:
        if correlation_id is not None and correlation_id != causation.correlation_id:
            raise ValueError(
                f"correlation_id {correlation_id!r} contradicts the causing event's "
                f"{causation.correlation_id!r}"
            )
        correlation_id = causation.correlation_id
    given = {
        "source": source,
        "subject": subject,
        "correlation_id": correlation_id or new_correlation_id(),
    }
    _check_envelope_fields(given)
    version = registry.newest_version(type)
    return Envelope(
        id=new_event_id(),
        type=type,
        version=version,
        occurred_at=datetime.now(UTC),
        causation_id=causation.id if causation is not None else None,
        data=registry.read(type, version, dict(data)),
        **given,
    )


def _check_envelope_fields(given: Mapping[str, Any]) -> None:
    """The envelope schema's own rules for the fields given, without loading a whole envelope."""
    messages: dict[str, Any] = {}
    for name, value in given.items():
        try:
            _ENVELOPE_SCHEMA.fields[name].deserialize(value)
        except ValidationError as error:
            messages[name] = error.messages
    if messages:
        errors = flatten_messages(messages)
        raise InvalidEvent(
            "invalid_envelope", f"invalid envelope: {describe_messages(errors)}", errors=errors
        )


def load_envelope_fields(wire: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the envelope alone, before its type and version are trusted to pick a schema."""
    try:
        loaded: dict[str, Any] = _ENVELOPE_SCHEMA.load(wire)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        raise InvalidEvent(
            "invalid_envelope", f"invalid envelope: {describe_messages(errors)}", errors=errors
        ) from None
    return loaded


def envelope_from_fields(loaded: Mapping[str, Any], registry: EventRegistry) -> Envelope:
    """Validate ``data`` against its (type, version) and lift it to the newest version."""
    event_type: str = loaded["type"]
    data = registry.read(event_type, loaded["version"], loaded["data"])
    return Envelope(
        id=loaded["id"],
        type=event_type,
        version=registry.newest_version(event_type),
        occurred_at=loaded["occurred_at"],
        source=loaded["source"],
        subject=loaded["subject"],
        correlation_id=loaded["correlation_id"],
        causation_id=loaded["causation_id"],
        data=data,
    )


def envelope_to_wire(envelope: Envelope) -> dict[str, Any]:
    wire: dict[str, Any] = _ENVELOPE_SCHEMA.dump(envelope)
    return wire

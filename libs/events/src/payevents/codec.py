"""Bytes and Kafka headers in, envelopes out, and back.

Type, version, id and correlation id are repeated as headers so that brokers, DLQ tooling and
tracing can route and group messages without parsing the body. The body stays the source of
truth: when headers are given to ``decode`` they must agree with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from payevents.envelope import (
    Envelope,
    envelope_from_fields,
    envelope_to_wire,
    load_envelope_fields,
)
from payevents.errors import InvalidEvent
from payevents.registry import EventRegistry
from payevents.schemas import REGISTRY
from payevents.strict_json import StrictJsonError, loads_object

HEADER_EVENT_TYPE = "event-type"
HEADER_EVENT_VERSION = "event-version"
HEADER_EVENT_ID = "event-id"
HEADER_CORRELATION_ID = "correlation-id"

Headers = list[tuple[str, bytes]]


def encode(envelope: Envelope) -> tuple[bytes, Headers]:
    """Serialise to compact UTF-8 JSON plus the headers a producer should attach."""
    wire = envelope_to_wire(envelope)
    body = json.dumps(wire, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return body.encode("utf-8"), [
        (name, value.encode("utf-8")) for name, value in _header_values(wire).items()
    ]


def decode(
    value: bytes,
    headers: Sequence[tuple[str, bytes | None]] | None = None,
    *,
    registry: EventRegistry = REGISTRY,
) -> Envelope:
    """Parse and validate a message of any registered version and return the newest shape.

    Raises InvalidEvent for anything no retry could fix, so the caller can dead-letter it.
    """
    loaded = load_envelope_fields(_parse_json_object(value))
    if headers is not None:
        _check_headers(headers, loaded)
    return envelope_from_fields(loaded, registry)


def _header_values(envelope_fields: Mapping[str, Any]) -> dict[str, str]:
    return {
        HEADER_EVENT_TYPE: str(envelope_fields["type"]),
        HEADER_EVENT_VERSION: str(envelope_fields["version"]),
        HEADER_EVENT_ID: str(envelope_fields["id"]),
        HEADER_CORRELATION_ID: str(envelope_fields["correlation_id"]),
    }


def _check_headers(headers: Sequence[tuple[str, bytes | None]], loaded: dict[str, Any]) -> None:
    expected = _header_values(loaded)
    for name, raw in headers:
        if name not in expected:
            continue
        try:
            text = raw.decode("utf-8") if raw is not None else None
        except UnicodeDecodeError:
            text = None
        if text != expected[name]:
            raise InvalidEvent(
                "invalid_envelope",
                f"header {name} is {raw!r} but the body says {expected[name]!r}",
            )


def _parse_json_object(value: bytes) -> dict[str, Any]:
    try:
        return loads_object(value)
    except StrictJsonError as error:
        raise InvalidEvent("malformed_json", f"message is not a JSON object: {error}") from None

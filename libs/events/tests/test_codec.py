from __future__ import annotations

import json
from typing import Any

import pytest

from payevents import Envelope, InvalidEvent, decode, encode, new_event


@pytest.fixture
def event(payment_created: dict[str, Any]) -> Envelope:
    return new_event(
        "payment.created",
        payment_created,
        source="payment-service",
        subject="PAY_123456",
        correlation_id="req_abc",
    )


def wire_of(event: Envelope) -> dict[str, Any]:
    body, _ = encode(event)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def bytes_of(wire: dict[str, Any]) -> bytes:
    return json.dumps(wire).encode()


def reason_for(value: bytes, headers: list[tuple[str, bytes]] | None = None) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        decode(value, headers)
    return caught.value


def test_encoded_event_decodes_to_an_equal_envelope(event: Envelope) -> None:
    body, headers = encode(event)

    assert decode(body, headers) == event


def test_causation_survives_the_round_trip(
    event: Envelope, valid_data: dict[str, dict[str, Any]]
) -> None:
    effect = new_event(
        "payment.processing",
        valid_data["payment.processing"],
        source="payment-service",
        subject="PAY_123456",
        causation=event,
    )

    decoded = decode(*encode(effect))

    assert decoded.causation_id == event.id
    assert decoded.correlation_id == "req_abc"


def test_body_is_compact_utf8_json_with_every_envelope_field(event: Envelope) -> None:
    body, _ = encode(event)

    assert b": " not in body and b", " not in body
    assert set(json.loads(body.decode("utf-8"))) == {
        "id",
        "type",
        "version",
        "occurred_at",
        "source",
        "subject",
        "correlation_id",
        "causation_id",
        "data",
    }


def test_non_ascii_text_is_written_as_utf8(payment_created: dict[str, Any]) -> None:
    payment_created["description"] = "Café crème"
    event = new_event("payment.created", payment_created, source="payment-service", subject="x")

    body, _ = encode(event)

    assert "Café crème".encode() in body


def test_occurred_at_is_iso_8601_utc_with_z(event: Envelope) -> None:
    assert wire_of(event)["occurred_at"].endswith("Z")


def test_headers_repeat_type_version_id_and_correlation_id(event: Envelope) -> None:
    _, headers = encode(event)

    assert headers == [
        ("event-type", b"payment.created"),
        ("event-version", b"2"),
        ("event-id", event.id.encode()),
        ("correlation-id", b"req_abc"),
    ]


def test_occurred_at_with_plus_zero_offset_is_accepted(event: Envelope) -> None:
    wire = wire_of(event)
    wire["occurred_at"] = "2025-03-01T10:00:00+00:00"

    assert decode(bytes_of(wire)).occurred_at.isoformat() == "2025-03-01T10:00:00+00:00"


def test_occurred_at_with_another_offset_is_normalised_to_utc(event: Envelope) -> None:
    wire = wire_of(event)
    wire["occurred_at"] = "2025-03-01T12:00:00+02:00"

    assert decode(bytes_of(wire)).occurred_at.isoformat() == "2025-03-01T10:00:00+00:00"


def test_bytes_that_are_not_utf8_are_malformed_json() -> None:
    error = reason_for(b"\xff\xfe{}")

    assert error.reason == "malformed_json"
    assert "UTF-8" in str(error)


@pytest.mark.parametrize("value", [b"{not json", b"", b'{"a": NaN}'])
def test_bytes_that_are_not_json_are_malformed_json(value: bytes) -> None:
    assert reason_for(value).reason == "malformed_json"


@pytest.mark.parametrize("value", [b"[]", b'"event"', b"42", b"null"])
def test_json_that_is_not_an_object_is_malformed_json(value: bytes) -> None:
    error = reason_for(value)

    assert error.reason == "malformed_json"
    assert "not an object" in str(error)


def test_duplicate_keys_are_malformed_json(event: Envelope) -> None:
    body, _ = encode(event)
    duplicated = body[:-1] + b',"type":"refund.failed"}'

    error = reason_for(duplicated)

    assert error.reason == "malformed_json"
    assert "duplicate key 'type'" in str(error)


@pytest.mark.parametrize("missing", ["id", "type", "version", "occurred_at", "data"])
def test_missing_envelope_field_is_an_invalid_envelope_naming_it(
    event: Envelope, missing: str
) -> None:
    wire = wire_of(event)
    del wire[missing]

    error = reason_for(bytes_of(wire))

    assert error.reason == "invalid_envelope"
    assert missing in str(error)
    assert missing in error.errors


def test_naive_occurred_at_is_an_invalid_envelope(event: Envelope) -> None:
    wire = wire_of(event)
    wire["occurred_at"] = "2025-03-01T10:00:00"

    error = reason_for(bytes_of(wire))

    assert error.reason == "invalid_envelope"
    assert "occurred_at" in error.errors


def test_version_given_as_a_string_is_an_invalid_envelope(event: Envelope) -> None:
    wire = wire_of(event)
    wire["version"] = "2"

    assert reason_for(bytes_of(wire)).reason == "invalid_envelope"


def test_unknown_envelope_field_is_an_invalid_envelope(event: Envelope) -> None:
    wire = wire_of(event)
    wire["occured_at"] = wire["occurred_at"]

    error = reason_for(bytes_of(wire))

    assert error.reason == "invalid_envelope"
    assert "occured_at" in error.errors


def test_unregistered_type_is_an_unknown_type(event: Envelope) -> None:
    wire = wire_of(event)
    wire["type"] = "payment.teleported"

    error = reason_for(bytes_of(wire))

    assert error.reason == "unknown_type"
    assert "payment.teleported" in str(error)


@pytest.mark.parametrize("version", [3, 99])
def test_unregistered_version_is_an_unknown_version(event: Envelope, version: int) -> None:
    wire = wire_of(event)
    wire["version"] = version

    error = reason_for(bytes_of(wire))

    assert error.reason == "unknown_version"
    assert f"no version {version}" in str(error)


def test_data_breaking_its_schema_is_a_schema_violation_naming_the_field(
    event: Envelope,
) -> None:
    wire = wire_of(event)
    wire["data"]["amount"] = 30.5

    error = reason_for(bytes_of(wire))

    assert error.reason == "schema_violation"
    assert "amount" in str(error)
    assert error.errors == {"amount": ["Not a valid integer."]}


def test_headers_that_disagree_with_the_body_are_an_invalid_envelope(event: Envelope) -> None:
    body, headers = encode(event)
    tampered = [(name, b"refund.failed" if name == "event-type" else v) for name, v in headers]

    error = reason_for(body, tampered)

    assert error.reason == "invalid_envelope"
    assert "event-type" in str(error)


def test_unrelated_headers_are_ignored(event: Envelope) -> None:
    body, headers = encode(event)

    decoded = decode(body, [*headers, ("retry-attempt", b"2"), ("traceparent", b"00-abc")])

    assert decoded == event

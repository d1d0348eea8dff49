from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from payevents import REGISTRY, Envelope, InvalidEvent, new_event


def make_payment_created(data: dict[str, Any], **kwargs: Any) -> Envelope:
    return new_event(
        "payment.created", data, source="payment-service", subject=data["payment_id"], **kwargs
    )


def test_new_event_stamps_the_newest_registered_version(payment_created: dict[str, Any]) -> None:
    event = make_payment_created(payment_created)

    assert event.type == "payment.created"
    assert event.version == REGISTRY.newest_version("payment.created") == 2


def test_new_event_generates_a_unique_prefixed_id(payment_created: dict[str, Any]) -> None:
    first = make_payment_created(payment_created)
    second = make_payment_created(payment_created)

    assert re.fullmatch(r"evt_[0-9a-f]{32}", first.id)
    assert first.id != second.id


def test_new_event_stamps_occurred_at_now_in_utc(payment_created: dict[str, Any]) -> None:
    before = datetime.now(UTC)
    event = make_payment_created(payment_created)
    after = datetime.now(UTC)

    assert event.occurred_at.tzinfo is UTC
    assert before <= event.occurred_at <= after


def test_new_event_without_correlation_starts_a_fresh_one(payment_created: dict[str, Any]) -> None:
    first = make_payment_created(payment_created)
    second = make_payment_created(payment_created)

    assert first.correlation_id and first.correlation_id != second.correlation_id
    assert first.causation_id is None


def test_new_event_keeps_a_given_correlation_id(payment_created: dict[str, Any]) -> None:
    event = make_payment_created(payment_created, correlation_id="req_abc")

    assert event.correlation_id == "req_abc"


def test_event_caused_by_another_inherits_its_correlation_and_names_it_as_cause(
    payment_created: dict[str, Any], valid_data: dict[str, dict[str, Any]]
) -> None:
    cause = make_payment_created(payment_created, correlation_id="req_abc")

    effect = new_event(
        "payment.processing",
        valid_data["payment.processing"],
        source="payment-service",
        subject="PAY_123456",
        causation=cause,
    )

    assert effect.correlation_id == "req_abc"
    assert effect.causation_id == cause.id


def test_correlation_id_contradicting_the_cause_is_refused(payment_created: dict[str, Any]) -> None:
    cause = make_payment_created(payment_created, correlation_id="req_abc")

    with pytest.raises(ValueError, match="contradicts"):
        make_payment_created(payment_created, causation=cause, correlation_id="req_other")


def test_new_event_fills_defaults_so_consumers_see_every_field(
    payment_created: dict[str, Any],
) -> None:
    event = make_payment_created(payment_created)

    assert event.data["capture_method"] == "automatic"
    assert event.data["metadata"] == {}
    assert event.data["description"] is None


def test_new_event_with_invalid_data_is_a_schema_violation(
    payment_created: dict[str, Any],
) -> None:
    payment_created["amount"] = "3000"

    with pytest.raises(InvalidEvent) as caught:
        make_payment_created(payment_created)

    assert caught.value.reason == "schema_violation"
    assert "amount" in caught.value.errors


def test_new_event_of_an_unregistered_type_is_refused() -> None:
    with pytest.raises(InvalidEvent) as caught:
        new_event("payment.teleported", {}, source="payment-service", subject="PAY_1")

    assert caught.value.reason == "unknown_type"


def test_new_event_without_a_source_is_an_invalid_envelope(
    payment_created: dict[str, Any],
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        new_event("payment.created", payment_created, source="", subject="PAY_123456")

    assert caught.value.reason == "invalid_envelope"
    assert "source" in caught.value.errors


def test_datetime_values_in_data_are_stored_as_utc_iso_strings(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["psp.payment_status_received"]
    data["received_at"] = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    event = new_event(
        "psp.payment_status_received", data, source="webhook-service", subject="PAY_123456"
    )

    assert event.data["received_at"] == "2025-03-01T10:00:00.000000Z"


def test_envelope_refuses_a_naive_occurred_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Envelope(
            id="evt_1",
            type="payment.created",
            version=2,
            occurred_at=datetime(2025, 1, 1),
            source="payment-service",
            subject="PAY_1",
            correlation_id="cor_1",
            causation_id=None,
            data={},
        )


def test_envelope_is_immutable(payment_created: dict[str, Any]) -> None:
    event = make_payment_created(payment_created)

    with pytest.raises(AttributeError):
        event.version = 1  # type: ignore[misc]

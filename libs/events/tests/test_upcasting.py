from __future__ import annotations

import json
from typing import Any

import pytest
from marshmallow import fields

from payevents import REGISTRY, EventRegistry, InvalidEvent, Upcaster, decode
from payevents.fieldtypes import StrictSchema


def v1_message(data: dict[str, Any], event_type: str = "payment.created") -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": event_type,
            "version": 1,
            "occurred_at": "2025-03-01T10:00:00Z",
            "source": "payment-service",
            "subject": "PAY_123456",
            "correlation_id": "cor_1",
            "causation_id": None,
            "data": data,
        }
    ).encode()


def test_v1_payment_created_is_upcast_to_newest_shape(payment_created: dict[str, Any]) -> None:
    event = decode(v1_message(payment_created))

    assert event.version == 2
    assert event.data["capture_method"] == "automatic"
    assert REGISTRY.validate("payment.created", 2, event.data) == event.data


def test_v1_payment_created_with_a_v2_field_is_a_schema_violation(
    payment_created: dict[str, Any],
) -> None:
    payment_created["capture_method"] = "manual"

    with pytest.raises(InvalidEvent) as caught:
        decode(v1_message(payment_created))

    assert caught.value.reason == "schema_violation"
    assert "v1" in str(caught.value)


def test_v2_payment_created_keeps_manual_capture(payment_created: dict[str, Any]) -> None:
    message = json.loads(v1_message({**payment_created, "capture_method": "manual"}))
    message["version"] = 2

    event = decode(json.dumps(message).encode())

    assert event.data["capture_method"] == "manual"


class AmountCentsV1(StrictSchema):
    amount_cents = fields.Integer(strict=True, required=True)


class AmountV2(StrictSchema):
    amount = fields.Integer(strict=True, required=True)
    currency = fields.String(required=True)


class AmountV3(AmountV2):
    note = fields.String(load_default="none")


def rename_amount(data: dict[str, Any]) -> dict[str, Any]:
    data["amount"] = data.pop("amount_cents")
    data["currency"] = "EUR"
    return data


@pytest.fixture
def renaming_registry() -> EventRegistry:
    registry = EventRegistry()
    registry.register("test.priced", 1, AmountCentsV1)
    registry.register(
        "test.priced",
        2,
        AmountV2,
        upcaster=Upcaster(rename_amount, touches=frozenset({"amount_cents", "amount", "currency"})),
    )
    registry.register("test.priced", 3, AmountV3)
    return registry


def test_upcasters_run_in_order_from_the_written_version_to_the_newest(
    renaming_registry: EventRegistry,
) -> None:
    event = decode(v1_message({"amount_cents": 500}, "test.priced"), registry=renaming_registry)

    assert event.version == 3
    assert event.data == {"amount": 500, "currency": "EUR", "note": "none"}


def test_upcasting_leaves_the_callers_data_untouched(renaming_registry: EventRegistry) -> None:
    original = {"amount_cents": 500}

    renaming_registry.upcast("test.priced", 1, original)

    assert original == {"amount_cents": 500}


def test_upcaster_producing_invalid_data_is_reported_as_a_schema_violation() -> None:
    registry = EventRegistry()
    registry.register("test.priced", 1, AmountCentsV1)
    registry.register("test.priced", 2, AmountV2, upcaster=lambda data: data)

    with pytest.raises(InvalidEvent) as caught:
        decode(v1_message({"amount_cents": 500}, "test.priced"), registry=registry)

    assert caught.value.reason == "schema_violation"
    assert "after upcasting from v1" in str(caught.value)


def test_versions_must_be_registered_in_order_without_gaps() -> None:
    registry = EventRegistry()

    with pytest.raises(ValueError, match="expected version 1"):
        registry.register("test.priced", 2, AmountV2)


def test_a_version_cannot_be_registered_twice() -> None:
    registry = EventRegistry()
    registry.register("test.priced", 1, AmountV2)

    with pytest.raises(ValueError, match="expected version 2"):
        registry.register("test.priced", 1, AmountV2)


def test_schemas_that_accept_unknown_fields_are_refused() -> None:
    class Lenient(StrictSchema):
        class Meta:
            unknown = "exclude"

    with pytest.raises(ValueError, match="unknown fields"):
        EventRegistry().register("test.lenient", 1, Lenient)


def test_a_refused_registration_leaves_the_registry_unchanged() -> None:
    class Lenient(StrictSchema):
        class Meta:
            unknown = "exclude"

    registry = EventRegistry()
    with pytest.raises(ValueError):
        registry.register("test.lenient", 1, Lenient)

    assert registry.types() == []

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from payevents import (
    REGISTRY,
    EventRegistry,
    Upcaster,
    check_backward_compatible,
    compatibility_problems,
)
from payevents.fieldtypes import StrictSchema


class PricedV1(StrictSchema):
    amount = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    status = fields.String(required=True, validate=validate.OneOf(["open", "paid"]))
    note = fields.String(load_default=None)
    lines = fields.List(fields.Nested(lambda: LineV1()), required=True)


class LineV1(StrictSchema):
    sku = fields.String(required=True)


def registry_with(newer: type[StrictSchema], upcaster: Upcaster | None = None) -> EventRegistry:
    registry = EventRegistry()
    registry.register("test.priced", 1, PricedV1)
    registry.register("test.priced", 2, newer, upcaster=upcaster)
    return registry


def problems_of(registry: EventRegistry) -> list[str]:
    return [f"{problem.field}: {problem.problem}" for problem in compatibility_problems(registry)]


def test_every_registered_event_is_backward_compatible() -> None:
    assert [str(problem) for problem in compatibility_problems(REGISTRY)] == []


def test_payment_created_v2_reads_v1_thanks_to_its_upcaster() -> None:
    assert check_backward_compatible("payment.created") == []


def test_adding_an_optional_field_is_compatible() -> None:
    class PricedV2(PricedV1):
        channel = fields.String(load_default="web")

    assert problems_of(registry_with(PricedV2)) == []


def test_widening_an_enum_and_loosening_a_range_is_compatible() -> None:
    class PricedV2(PricedV1):
        amount = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
        status = fields.String(required=True, validate=validate.OneOf(["open", "paid", "void"]))

    assert problems_of(registry_with(PricedV2)) == []


def test_required_field_without_default_or_upcaster_is_reported() -> None:
    class PricedV2(PricedV1):
        currency = fields.String(required=True)

    problems = compatibility_problems(registry_with(PricedV2))

    assert [(p.event_type, p.older_version, p.newer_version, p.field) for p in problems] == [
        ("test.priced", 1, 2, "currency")
    ]
    assert "no upcaster adds it" in problems[0].problem


def test_required_field_supplied_by_an_upcaster_is_compatible() -> None:
    class PricedV2(PricedV1):
        currency = fields.String(required=True)

    def add_currency(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "currency": "EUR"}

    upcaster = Upcaster(add_currency, touches=frozenset({"currency"}))

    assert problems_of(registry_with(PricedV2, upcaster)) == []


def test_changing_a_field_type_is_reported() -> None:
    class PricedV2(PricedV1):
        amount = fields.String(required=True)

    assert problems_of(registry_with(PricedV2)) == ["amount: type changed from Integer to String"]


def test_narrowing_an_enum_is_reported() -> None:
    class PricedV2(PricedV1):
        status = fields.String(required=True, validate=validate.OneOf(["open"]))

    assert problems_of(registry_with(PricedV2)) == ["status: no longer accepts ['paid']"]


def test_raising_a_minimum_is_reported() -> None:
    class PricedV2(PricedV1):
        amount = fields.Integer(strict=True, required=True, validate=validate.Range(min=100))

    assert problems_of(registry_with(PricedV2)) == ["amount: minimum raised to 100"]


def test_adding_a_pattern_is_reported() -> None:
    class PricedV2(PricedV1):
        note = fields.String(load_default=None, validate=validate.Regexp("[a-z]+"))

    assert problems_of(registry_with(PricedV2)) == ["note: must now match Regexp([a-z]+)"]


def test_refusing_null_is_reported() -> None:
    class PricedV2(PricedV1):
        note = fields.String(load_default="")

    assert problems_of(registry_with(PricedV2)) == ["note: no longer accepts null"]


def test_making_an_optional_field_required_is_reported() -> None:
    class PricedV2(PricedV1):
        note = fields.String(required=True, allow_none=True)

    assert problems_of(registry_with(PricedV2)) == [
        "note: required, but older producers could leave it out"
    ]


def test_dropping_a_field_without_an_upcaster_is_reported() -> None:
    class PricedV2(StrictSchema):
        amount = PricedV1._declared_fields["amount"]
        status = PricedV1._declared_fields["status"]
        lines = PricedV1._declared_fields["lines"]

    assert problems_of(registry_with(PricedV2)) == [
        "note: older producers write it, but it is now an unknown field"
    ]


def test_changes_inside_nested_objects_are_reported_with_their_path() -> None:
    class LineV2(StrictSchema):
        sku = fields.String(required=True)
        quantity = fields.Integer(strict=True, required=True)

    class PricedV2(PricedV1):
        lines = fields.List(fields.Nested(LineV2), required=True)

    assert problems_of(registry_with(PricedV2)) == [
        "lines[].quantity: required, but older producers never wrote it and no upcaster adds it"
    ]


def test_problems_are_reported_against_every_older_version_not_only_the_previous() -> None:
    class PricedV2(PricedV1):
        note = fields.String(load_default=None, allow_none=True)

    class PricedV3(PricedV2):
        currency = fields.String(required=True)

    def add_currency(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "currency": "EUR"}

    registry = registry_with(PricedV2)
    registry.register(
        "test.priced", 3, PricedV3, upcaster=Upcaster(add_currency, frozenset({"currency"}))
    )

    assert problems_of(registry) == []
    broken = registry_with(PricedV2)
    broken.register("test.priced", 3, PricedV3)
    pairs = [(p.older_version, p.newer_version) for p in compatibility_problems(broken)]
    assert pairs == [(1, 3), (2, 3)]

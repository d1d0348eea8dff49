"""The export lists what the runtime checks and JSON Schema cannot say, instead of dropping it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from marshmallow import ValidationError, fields, validates_schema

from payevents import REGISTRY
from payevents.fieldtypes import StrictSchema
from payevents.jsonschema_export import RUNTIME_RULES, render_exports, schema_to_json_schema
from payevents.rules import schema_rule

DOCUMENTS = {path: json.loads(text) for path, text in render_exports(REGISTRY).items()}


def subschemas(document: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(document, dict):
        yield pointer, document
        for key, value in document.items():
            yield from subschemas(value, f"{pointer}/{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from subschemas(value, f"{pointer}/{index}")


def rule_ids(subschema: Mapping[str, Any]) -> list[str]:
    return [rule["id"] for rule in subschema.get(RUNTIME_RULES, [])]


def test_the_ledger_balance_rule_is_listed_on_the_data_it_checks() -> None:
    data = DOCUMENTS["ledger.transaction_posted/v1.json"]["properties"]["data"]

    assert data[RUNTIME_RULES] == [
        {
            "id": "balanced_entries",
            "description": (
                "The amounts of the debit entries add up to the amounts of the credit entries."
            ),
        }
    ]


def test_the_settlement_batch_totals_and_period_rules_are_listed() -> None:
    data = DOCUMENTS["settlement.batch_closed/v1.json"]["properties"]["data"]

    assert rule_ids(data) == ["net_is_gross_less_refunds_and_fees", "period_end_after_start"]


def test_the_v2_settlement_batch_totals_rule_counts_reversals() -> None:
    data = DOCUMENTS["settlement.batch_closed/v2.json"]["properties"]["data"]

    assert rule_ids(data) == [
        "net_is_gross_less_refunds_fees_and_reversals",
        "period_end_after_start",
    ]


@pytest.mark.parametrize("path", sorted(DOCUMENTS))
def test_every_integer_says_that_the_runtime_refuses_it_written_with_a_fraction(
    path: str,
) -> None:
    integers = [
        (pointer, subschema)
        for pointer, subschema in subschemas(DOCUMENTS[path])
        if subschema.get("type") in ("integer", ["integer", "null"])
    ]

    assert integers, "every message has at least its version"
    assert [
        pointer for pointer, subschema in integers if "strict_integer" not in rule_ids(subschema)
    ] == []


@pytest.mark.parametrize("path", sorted(DOCUMENTS))
def test_every_document_says_at_its_root_that_it_is_not_the_whole_contract(path: str) -> None:
    document = DOCUMENTS[path]
    listed = {rule for _, subschema in subschemas(document) for rule in rule_ids(subschema)}

    assert document["$comment"].startswith("Not the whole contract")
    assert {"strict_json", "strict_integer", "utc_timestamp"} <= listed
    assert all(rule in document["$comment"] for rule in listed)


def test_rules_of_nested_schemas_are_listed_on_the_nested_object() -> None:
    class Line(StrictSchema):
        low = fields.Integer(strict=True, required=True)
        high = fields.Integer(strict=True, required=True)

        @schema_rule("ordered_bounds", "low is at most high.")
        @validates_schema
        def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["low"] > data["high"]:
                raise ValidationError("low above high", field_name="low")

    class Order(StrictSchema):
        lines = fields.List(fields.Nested(Line), required=True)

    document = schema_to_json_schema(Order())

    assert RUNTIME_RULES not in document
    assert rule_ids(document["properties"]["lines"]["items"]) == ["ordered_bounds"]


def test_the_export_refuses_a_hook_nobody_declared() -> None:
    class Undeclared(StrictSchema):
        code = fields.String(required=True)

        @validates_schema
        def _not_reserved(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["code"] == "reserved":
                raise ValidationError("Reserved.")

    with pytest.raises(TypeError, match=r"Undeclared\._not_reserved \(validates_schema\)"):
        schema_to_json_schema(Undeclared())


def test_the_export_refuses_a_field_type_with_an_undeclared_deserialize() -> None:
    class Shouting(fields.String):
        def _deserialize(
            self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
        ) -> str:
            return str(value).upper()

    class Sample(StrictSchema):
        code = Shouting(required=True)

    with pytest.raises(TypeError, match="field type Shouting overrides _deserialize"):
        schema_to_json_schema(Sample())

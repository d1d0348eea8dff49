"""The compatibility check and the code it cannot read: hooks, custom field types, overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from payevents import EventRegistry, Upcaster, compatibility_problems
from payevents.fieldtypes import StrictSchema
from payevents.rules import field_type_rule, schema_rule
from payevents.schemas.ledger import LedgerEntry, LedgerTransactionPostedV1


def ledger_registry(*newer: type[Schema]) -> EventRegistry:
    registry = EventRegistry()
    registry.register("ledger.transaction_posted", 1, LedgerTransactionPostedV1)
    for version, schema in enumerate(newer, start=2):
        registry.register("ledger.transaction_posted", version, schema)
    return registry


def problems_of(registry: EventRegistry) -> list[str]:
    return [str(problem) for problem in compatibility_problems(registry)]


def single_version(schema: type[Schema]) -> list[str]:
    registry = EventRegistry()
    registry.register("test.ruled", 1, schema)
    return problems_of(registry)


def test_an_undeclared_rule_that_tightens_the_balance_fails_the_check() -> None:
    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        @validates_schema
        def _one_debit_only(self, data: dict[str, Any], **kwargs: Any) -> None:
            if sum(entry["direction"] == "debit" for entry in data["entries"]) > 1:
                raise ValidationError("At most one debit.", field_name="entries")

    assert problems_of(ledger_registry(LedgerTransactionPostedV2)) == [
        "ledger.transaction_posted v2: (schema): LedgerTransactionPostedV2._one_debit_only "
        "(validates_schema) is not declared: give it @schema_rule(id, description)"
    ]


def test_a_newer_version_adding_a_declared_rule_is_incompatible_with_every_older_one() -> None:
    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        pass

    class LedgerTransactionPostedV3(LedgerTransactionPostedV2):
        @schema_rule("one_debit", "At most one debit entry.")
        @validates_schema
        def _one_debit_only(self, data: dict[str, Any], **kwargs: Any) -> None:
            if sum(entry["direction"] == "debit" for entry in data["entries"]) > 1:
                raise ValidationError("At most one debit.", field_name="entries")

    registry = ledger_registry(LedgerTransactionPostedV2, LedgerTransactionPostedV3)
    problems = compatibility_problems(registry)

    assert [(p.older_version, p.newer_version, p.field) for p in problems] == [
        (1, 3, "(schema)"),
        (2, 3, "(schema)"),
    ]
    assert problems[0].problem.startswith(
        "adds rule one_debit (validates_schema: At most one debit entry.), which older "
        "producers were not held to"
    )


def test_changing_the_code_of_a_rule_under_the_same_id_is_incompatible() -> None:
    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        @schema_rule("balanced_entries", "Debits equal credits, and there are at most 10 entries.")
        @validates_schema
        def _debits_equal_credits(self, data: dict[str, Any], **kwargs: Any) -> None:
            if len(data["entries"]) > 10:
                raise ValidationError("At most 10 entries.", field_name="entries")
            LedgerTransactionPostedV1._debits_equal_credits(self, data, **kwargs)

    assert problems_of(ledger_registry(LedgerTransactionPostedV2)) == [
        "ledger.transaction_posted v1 -> v2: (schema): changes the code of rule balanced_entries"
        " (validates_schema: Debits equal credits, and there are at most 10 entries.), which "
        "older producers were not held to; mark it loosening=True only if it refuses nothing "
        "they could write"
    ]


def test_a_changed_rule_marked_loosening_is_trusted() -> None:
    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        @schema_rule("balanced_entries", "Debits equal credits, or it is a fee.", loosening=True)
        @validates_schema
        def _debits_equal_credits(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["kind"] != "fee":
                LedgerTransactionPostedV1._debits_equal_credits(self, data, **kwargs)

    assert problems_of(ledger_registry(LedgerTransactionPostedV2)) == []


def test_inherited_rules_and_their_removal_are_compatible() -> None:
    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        pass

    class LedgerTransactionPostedV3(LedgerTransactionPostedV2):
        def _debits_equal_credits(self, data: dict[str, Any], **kwargs: Any) -> None:
            """No longer a hook: unbalanced transactions are accepted from v3 on."""

    registry = ledger_registry(LedgerTransactionPostedV2, LedgerTransactionPostedV3)

    assert problems_of(registry) == []


def test_dropping_a_rule_that_rewrote_data_is_reported() -> None:
    class RuledV1(StrictSchema):
        code = fields.String(required=True)

        @schema_rule("upper_case_code", "code is read in upper case.")
        @post_load
        def _upper_case(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return {**data, "code": data["code"].upper()}

    class RuledV2(StrictSchema):
        code = fields.String(required=True)

    registry = EventRegistry()
    registry.register("test.ruled", 1, RuledV1)
    registry.register("test.ruled", 2, RuledV2)

    assert problems_of(registry) == [
        "test.ruled v1 -> v2: (schema): drops rule upper_case_code (post_load), which rewrote "
        "data as it was read: the check cannot tell whether older data still reads the same"
    ]


def test_rules_in_nested_schemas_are_compared_with_their_path() -> None:
    class CappedEntry(LedgerEntry):
        @schema_rule("capped_amount", "amount is at most 1000.")
        @validates_schema
        def _capped(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["amount"] > 1000:
                raise ValidationError("Too large.", field_name="amount")

    class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
        entries = fields.List(
            fields.Nested(CappedEntry), required=True, validate=validate.Length(min=2)
        )

    assert [
        (p.field, p.problem.split(" (")[0])
        for p in compatibility_problems(ledger_registry(LedgerTransactionPostedV2))
    ] == [("entries[]", "adds rule capped_amount")]


def test_every_kind_of_undeclared_hook_is_reported_even_without_a_newer_version() -> None:
    class Hooked(StrictSchema):
        code = fields.String(required=True)

        @pre_load
        def _strip(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return data

        @post_load
        def _build(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            return data

        @validates("code")
        def _not_reserved(self, value: str, **kwargs: Any) -> None:
            if value == "reserved":
                raise ValidationError("Reserved.")

    assert [problem.split(": ", 2)[2] for problem in single_version(Hooked)] == [
        "Hooked._build (post_load) is not declared: give it @schema_rule(id, description)",
        "Hooked._not_reserved (validates(code)) is not declared: give it "
        "@schema_rule(id, description)",
        "Hooked._strip (pre_load) is not declared: give it @schema_rule(id, description)",
    ]


def test_a_declaration_without_a_hook_is_reported_because_nothing_runs_it() -> None:
    class Forgotten(StrictSchema):
        code = fields.String(required=True)

        @schema_rule("code_not_reserved", "code is not 'reserved'.")
        def _not_reserved(self, data: dict[str, Any], **kwargs: Any) -> None:
            raise ValidationError("Reserved.")

    assert single_version(Forgotten) == [
        "test.ruled v1: (schema): Forgotten._not_reserved declares a rule that marshmallow "
        "never runs (no hook decorator)"
    ]


def test_a_schema_overriding_marshmallow_machinery_is_reported() -> None:
    class Overriding(StrictSchema):
        code = fields.String(required=True)

        def load(self, data: Any, **kwargs: Any) -> Any:
            return super().load(data, **kwargs)

    assert single_version(Overriding) == [
        "test.ruled v1: (schema): Overriding overrides marshmallow's Schema.load: the check "
        "cannot judge what that changes"
    ]


class Shouting(fields.String):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        return str(super()._deserialize(value, attr, data, **kwargs)).upper()


@field_type_rule("shouted", "Read in upper case.")
class DeclaredShouting(Shouting):
    pass


def test_a_field_type_with_its_own_deserialize_must_declare_it() -> None:
    class Undeclared(StrictSchema):
        code = Shouting(required=True)

    class Declared(StrictSchema):
        code = DeclaredShouting(required=True)

    assert single_version(Undeclared) == [
        "test.ruled v1: code: field type Shouting overrides _deserialize without declaring what "
        "it enforces: give it @field_type_rule(id, description)"
    ]
    assert single_version(Declared) == []


def test_field_types_the_check_cannot_compare_are_reported() -> None:
    class Loose(StrictSchema):
        price = fields.Float(required=True)
        label = fields.Function(deserialize=str.upper, required=True)
        tags = fields.List(fields.Email(), load_default=list)

    assert single_version(Loose) == [
        "test.ruled v1: price: the check cannot judge field type Float",
        "test.ruled v1: label: the check cannot judge field type Function",
        "test.ruled v1: tags[]: the check cannot judge field type Email",
    ]


def test_a_new_rule_that_an_upcaster_makes_older_data_satisfy_can_be_marked_loosening() -> None:
    class RuledV1(StrictSchema):
        low = fields.Integer(strict=True, required=True)
        high = fields.Integer(strict=True, load_default=None)

    class RuledV2(RuledV1):
        @schema_rule("ordered", "high, when given, is not below low.", loosening=True)
        @validates_schema
        def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
            if data["high"] is not None and data["high"] < data["low"]:
                raise ValidationError("Below low.", field_name="high")

    def drop_disordered_high(data: dict[str, Any]) -> dict[str, Any]:
        if data["high"] is not None and data["high"] < data["low"]:
            data["high"] = None
        return data

    registry = EventRegistry()
    registry.register("test.ruled", 1, RuledV1)
    registry.register(
        "test.ruled", 2, RuledV2, upcaster=Upcaster(drop_disordered_high, frozenset({"high"}))
    )

    assert problems_of(registry) == []
    assert registry.read("test.ruled", 1, {"low": 5, "high": 1}) == {"low": 5, "high": None}


class RangeWithExceptions(validate.Range):
    def __call__(self, value: Any) -> Any:
        if value == 13:
            raise ValidationError("Unlucky.")
        return super().__call__(value)


def test_a_validator_subclass_is_compared_as_opaque_code_not_by_its_parameters() -> None:
    class RuledV1(StrictSchema):
        amount = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))

    class RuledV2(StrictSchema):
        amount = fields.Integer(strict=True, required=True, validate=RangeWithExceptions(min=1))

    registry = EventRegistry()
    registry.register("test.ruled", 1, RuledV1)
    registry.register("test.ruled", 2, RuledV2)

    assert [problem.split(": ", 2)[2] for problem in problems_of(registry)] == [
        "adds a validator the check cannot compare: <RangeWithExceptions(min=1, max=None, "
        "min_inclusive=True, max_inclusive=True, error=None)>"
    ]


def test_adding_a_flag_to_a_pattern_is_a_changed_pattern() -> None:
    class RuledV1(StrictSchema):
        code = fields.String(required=True, validate=validate.Regexp("[a-z]+"))

    class RuledV2(StrictSchema):
        code = fields.String(required=True, validate=validate.Regexp("[a-z]+", re.ASCII))

    registry = EventRegistry()
    registry.register("test.ruled", 1, RuledV1)
    registry.register("test.ruled", 2, RuledV2)

    assert [problem.split(": ", 2)[2] for problem in problems_of(registry)] == [
        "must now match Regexp([a-z]+, flags=re.ASCII)"
    ]

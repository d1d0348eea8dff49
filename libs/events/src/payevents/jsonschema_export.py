"""JSON Schema (draft 2020-12) documents generated from the marshmallow schemas.

Teams and tools outside Python (contract tests, a schema browser, a consumer in another
language) need the contracts too. Generating the documents from the same schemas the services
run keeps them from drifting; the converter only knows the field types and validators this
library uses and refuses anything else rather than export a guess.

Some of what the runtime enforces has no JSON Schema form: schema-level rules (balanced ledger
entries), integers that must be written without a fraction (JSON Schema compares numbers by
value, so ``"type": "integer"`` accepts ``100.0``), the strict JSON reading. Each document lists
those under ``x-runtime-rules`` where they apply and says at its root that it is incomplete, so
nobody takes a document for the whole contract.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate

from payevents.envelope import EnvelopeSchema
from payevents.fieldtypes import PARAMETER_VALIDATORS, FullMatch, UtcDateTime, pattern_flags
from payevents.registry import EventRegistry, RegisteredVersion
from payevents.rules import field_type_rule_of, schema_rules

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
RUNTIME_RULES = "x-runtime-rules"

STRICT_INTEGER = {
    "id": "strict_integer",
    "description": (
        "A JSON number written without a fraction or an exponent: 100.0 and 1e2 are refused "
        'although they equal 100. JSON Schema compares numbers by value, so "type": "integer" '
        "cannot say this; check the number as written (or as your parser types it)."
    ),
}
MESSAGE_RULES = [
    {
        "id": "strict_json",
        "description": (
            "The message is UTF-8 JSON read strictly: duplicate keys, NaN and Infinity are "
            "refused before any schema applies, and JSON Schema only sees the parsed value."
        ),
    },
    {
        "id": "headers_match_body",
        "description": (
            "When the Kafka record carries event-type, event-version, event-id or "
            "correlation-id headers, each equals the body's type, version, id or correlation_id."
        ),
    },
]


def export_path(event_type: str, version: int) -> str:
    return f"{event_type}/v{version}.json"


def render_exports(registry: EventRegistry) -> dict[str, str]:
    """Every document as the exact text to commit, keyed by its path under the schemas folder."""
    return {
        export_path(entry.event_type, entry.version): render(event_json_schema(entry))
        for entry in registry
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def event_json_schema(entry: RegisteredVersion) -> dict[str, Any]:
    """A whole message of one (type, version): the envelope with its data schema inside."""
    document = schema_to_json_schema(EnvelopeSchema())
    properties = document["properties"]
    properties["type"] = {**properties["type"], "const": entry.event_type}
    properties["version"] = {**properties["version"], "const": entry.version}
    properties["data"] = schema_to_json_schema(entry.schema)
    document["$schema"] = DRAFT_2020_12
    document["title"] = f"{entry.event_type} v{entry.version}"
    doc = type(entry.schema).__doc__
    if doc:
        document["description"] = inspect.cleandoc(doc)
    document[RUNTIME_RULES] = [dict(rule) for rule in MESSAGE_RULES]
    document["$comment"] = (
        "Not the whole contract: the runtime also enforces rules JSON Schema cannot express, "
        f"each listed under {RUNTIME_RULES} where it applies (here: "
        f"{', '.join(sorted(_rule_ids(document)))}). A message valid against this document "
        "may still be refused."
    )
    return document


def schema_to_json_schema(schema: Schema) -> dict[str, Any]:
    scanned = schema_rules(schema)
    if scanned.undeclared:
        raise TypeError(f"cannot export what is not declared: {'; '.join(scanned.undeclared)}")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        properties[key] = field_to_json_schema(field)
        if field.required:
            required.append(key)
    document: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        document["required"] = sorted(required)
    if schema.unknown == RAISE:
        document["additionalProperties"] = False
    if scanned.declared:
        document[RUNTIME_RULES] = [
            {"id": rule.id, "description": rule.description}
            for rule in sorted(scanned.declared, key=lambda rule: rule.id)
        ]
    return document


def field_to_json_schema(field: fields.Field[Any]) -> dict[str, Any]:
    document = _type_keywords(field)
    for validator in field.validators:
        document.update(_validator_keywords(validator, document.get("type")))
    if field.allow_none:
        document = _nullable(document)
    if field.load_default is not missing:
        default = field.load_default
        document["default"] = default() if callable(default) else default
    description = field.metadata.get("description")
    if description:
        document["description"] = description
    rules = _field_rules(field)
    if rules:
        document[RUNTIME_RULES] = rules
    return document


def _field_rules(field: fields.Field[Any]) -> list[dict[str, Any]]:
    """What the runtime checks on this field that the field's JSON Schema does not say."""
    declaration, undeclared = field_type_rule_of(field)
    if undeclared:
        raise TypeError(f"cannot export what is not declared: {'; '.join(undeclared)}")
    rules: list[dict[str, Any]] = []
    if declaration is not None and not declaration.expressed:
        rules.append({"id": declaration.id, "description": declaration.description})
    if isinstance(field, fields.Integer):
        rules.append(dict(STRICT_INTEGER))
    return rules


def _rule_ids(document: Any) -> set[str]:
    if isinstance(document, list):
        return set().union(*(_rule_ids(item) for item in document))
    if not isinstance(document, dict):
        return set()
    found = {rule["id"] for rule in document.get(RUNTIME_RULES, [])}
    return found.union(*(_rule_ids(value) for value in document.values()))


def _type_keywords(field: fields.Field[Any]) -> dict[str, Any]:
    if isinstance(field, fields.Nested):
        nested = schema_to_json_schema(field.schema)
        return {"type": "array", "items": nested} if field.many else nested
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_to_json_schema(field.inner)}
    if isinstance(field, fields.Dict):
        document: dict[str, Any] = {"type": "object"}
        if field.key_field is not None:
            document["propertyNames"] = field_to_json_schema(field.key_field)
        if field.value_field is not None:
            document["additionalProperties"] = field_to_json_schema(field.value_field)
        return document
    if isinstance(field, UtcDateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, fields.Integer) and field.strict:
        return {"type": "integer"}
    if isinstance(field, fields.String):
        return {"type": "string"}
    if isinstance(field, fields.Integer):
        raise TypeError(
            'Integer without strict=True reads "5" and truncates 5.5 to 5: '
            '"type": "integer" would claim it refuses them'
        )
    if isinstance(field, fields.Boolean):
        raise TypeError('Boolean reads "yes", "on" and 1 as true: "type": "boolean" would not')
    raise TypeError(f"no JSON Schema mapping for field type {type(field).__name__}")


_SIZE_KEYWORDS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


def _validator_keywords(validator: Any, json_type: Any) -> dict[str, Any]:
    if type(validator) not in PARAMETER_VALIDATORS:
        raise TypeError(f"no JSON Schema mapping for validator {validator!r}")
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, validate.Range):
        keywords: dict[str, Any] = {}
        if validator.min is not None:
            keywords["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            keywords["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return keywords
    if isinstance(validator, validate.Length) and json_type in _SIZE_KEYWORDS:
        low_key, high_key = _SIZE_KEYWORDS[json_type]
        low = validator.equal if validator.equal is not None else validator.min
        high = validator.equal if validator.equal is not None else validator.max
        keywords = {}
        if low is not None:
            keywords[low_key] = low
        if high is not None:
            keywords[high_key] = high
        return keywords
    if isinstance(validator, validate.Regexp) and not pattern_flags(validator):
        # JSON Schema patterns search anywhere; anchor them to mean what the validator means.
        pattern = str(validator.regex.pattern)
        anchored = f"^(?:{pattern})$" if isinstance(validator, FullMatch) else f"^{pattern}"
        return {"pattern": anchored}
    raise TypeError(f"no JSON Schema mapping for validator {validator!r}")


def _nullable(document: dict[str, Any]) -> dict[str, Any]:
    if isinstance(document.get("type"), str):
        nullable = {**document, "type": [document["type"], "null"]}
        if "enum" in nullable:
            nullable["enum"] = [*nullable["enum"], None]
        return nullable
    return {"anyOf": [document, {"type": "null"}]}

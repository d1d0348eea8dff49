"""JSON Schema (draft 2020-12) documents generated from the marshmallow schemas.

Teams and tools outside Python (contract tests, a schema browser, a consumer in another
language) need the contracts too. Generating the documents from the same schemas the services
run keeps them from drifting; the converter only knows the field types and validators this
library uses and refuses anything else rather than export a guess.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate

from payevents.envelope import EnvelopeSchema
from payevents.fieldtypes import FullMatch
from payevents.registry import EventRegistry, RegisteredVersion

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


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
    properties["type"] = {"const": entry.event_type}
    properties["version"] = {"const": entry.version}
    properties["data"] = schema_to_json_schema(entry.schema)
    document["$schema"] = DRAFT_2020_12
    document["title"] = f"{entry.event_type} v{entry.version}"
    doc = type(entry.schema).__doc__
    if doc:
        document["description"] = inspect.cleandoc(doc)
    return document


def schema_to_json_schema(schema: Schema) -> dict[str, Any]:
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
    return document


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
    if isinstance(field, fields.DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, fields.Boolean):
        return {"type": "boolean"}
    if isinstance(field, fields.Integer):
        return {"type": "integer"}
    if isinstance(field, fields.String):
        return {"type": "string"}
    raise TypeError(f"no JSON Schema mapping for field type {type(field).__name__}")


_SIZE_KEYWORDS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


def _validator_keywords(validator: Any, json_type: Any) -> dict[str, Any]:
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
    if isinstance(validator, validate.Regexp):
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

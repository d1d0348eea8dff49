from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from marshmallow import Schema, fields, validate

from payevents import REGISTRY, EventRegistry
from payevents.export import DEFAULT_OUTPUT, main, stale_exports
from payevents.fieldtypes import StrictSchema, Text, UtcDateTime
from payevents.jsonschema_export import STRICT_INTEGER, render_exports, schema_to_json_schema


def test_committed_json_schemas_are_up_to_date() -> None:
    assert stale_exports(DEFAULT_OUTPUT) == [], "run: uv run python -m payevents.export"


def test_there_is_one_document_per_registered_version() -> None:
    expected = {f"{entry.event_type}/v{entry.version}.json" for entry in REGISTRY}

    assert set(render_exports(REGISTRY)) == expected
    assert "payment.created/v2.json" in expected


def test_documents_are_sorted_two_space_json_with_a_trailing_newline() -> None:
    text = render_exports(REGISTRY)["payment.created/v1.json"]
    document = json.loads(text)

    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_document_describes_the_whole_message_of_its_type_and_version() -> None:
    document = json.loads(render_exports(REGISTRY)["payment.created/v2.json"])

    assert document["properties"]["type"]["const"] == "payment.created"
    assert document["properties"]["version"]["const"] == 2
    assert document["additionalProperties"] is False
    data = document["properties"]["data"]
    assert data["additionalProperties"] is False
    assert data["properties"]["amount"] == {
        "description": "Payment amount in minor units of the currency.",
        "maximum": 2**53 - 1,
        "minimum": 1,
        "type": "integer",
        "x-runtime-rules": [STRICT_INTEGER],
    }
    assert data["properties"]["capture_method"]["default"] == "automatic"
    assert "capture_method" not in data["required"]


def test_converter_maps_field_types_and_validators() -> None:
    class Line(Schema):
        sku = fields.String(required=True, validate=validate.Length(min=1, max=20))

    class Sample(StrictSchema):
        ratio = fields.Integer(
            strict=True, validate=validate.Range(min=0, max=10, max_inclusive=False)
        )
        kind = fields.String(load_default=None, validate=validate.OneOf(["a", "b"]))
        code = fields.String(validate=validate.Regexp("[A-Z]+"))
        at = UtcDateTime(required=True)
        tags = fields.Dict(keys=Text(), values=fields.Integer(strict=True))
        lines = fields.List(fields.Nested(Line), validate=validate.Length(min=1))
        parent = fields.Nested(Line, allow_none=True)

    document = schema_to_json_schema(Sample())
    properties = document["properties"]

    assert document["required"] == ["at"]
    assert properties["ratio"] == {
        "type": "integer",
        "minimum": 0,
        "exclusiveMaximum": 10,
        "x-runtime-rules": [STRICT_INTEGER],
    }
    assert properties["kind"] == {
        "type": ["string", "null"],
        "enum": ["a", "b", None],
        "default": None,
    }
    assert properties["code"] == {"type": "string", "pattern": "^[A-Z]+"}
    assert properties["at"]["format"] == "date-time"
    assert [rule["id"] for rule in properties["at"]["x-runtime-rules"]] == ["utc_timestamp"]
    assert properties["tags"] == {
        "type": "object",
        "propertyNames": {"type": "string"},
        "additionalProperties": {"type": "integer", "x-runtime-rules": [STRICT_INTEGER]},
    }
    assert properties["lines"]["minItems"] == 1
    assert properties["lines"]["items"]["properties"]["sku"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 20,
    }
    assert properties["parent"]["type"] == ["object", "null"]


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (fields.Float(), "Float"),
        (fields.Boolean(), '"yes"'),
        (fields.Integer(), "strict=True"),
        (fields.DateTime(), "DateTime"),
    ],
)
def test_converter_refuses_field_types_whose_runtime_it_cannot_state(
    field: fields.Field[Any], reason: str
) -> None:
    sample = StrictSchema.from_dict({"value": field})

    with pytest.raises(TypeError, match=reason):
        schema_to_json_schema(sample())


def test_check_reports_missing_stale_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    (tmp_path / "payment.failed" / "v1.json").unlink()
    (tmp_path / "payment.created" / "v2.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "payment.created" / "v3.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()

    assert main(["--check", "--out", str(tmp_path)]) == 1

    reported = capsys.readouterr().err
    assert "missing: payment.failed/v1.json" in reported
    assert "stale: payment.created/v2.json" in reported
    assert "extra: payment.created/v3.json" in reported


def test_writing_makes_the_check_pass_again(tmp_path: Path) -> None:
    (tmp_path / "payment.teleported").mkdir()
    (tmp_path / "payment.teleported" / "v1.json").write_text("{}\n", encoding="utf-8")

    assert main(["--out", str(tmp_path)]) == 0

    assert main(["--check", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "payment.teleported").exists()


def test_check_fails_when_a_schema_changes_without_regenerating(tmp_path: Path) -> None:
    main(["--out", str(tmp_path)])

    class Extra(StrictSchema):
        note = fields.String()

    registry = EventRegistry()
    for entry in REGISTRY:
        registry.register(
            entry.event_type, entry.version, type(entry.schema), upcaster=entry.upcaster
        )
    next_version = REGISTRY.newest_version("payment.failed") + 1
    registry.register("payment.failed", next_version, Extra)

    assert stale_exports(tmp_path, registry) == [f"missing: payment.failed/v{next_version}.json"]


class LuckyRegexp(validate.Regexp):
    def __call__(self, value: Any) -> Any:
        return value if value == "lucky" else super().__call__(value)


@pytest.mark.parametrize(
    "validator",
    [LuckyRegexp("[a-z]+"), validate.Regexp("[a-z]+", re.IGNORECASE), validate.Email()],
)
def test_converter_refuses_validators_it_cannot_read_from_their_parameters(
    validator: validate.Validator,
) -> None:
    sample = StrictSchema.from_dict({"value": fields.String(validate=validator)})

    with pytest.raises(TypeError, match="no JSON Schema mapping for validator"):
        schema_to_json_schema(sample())

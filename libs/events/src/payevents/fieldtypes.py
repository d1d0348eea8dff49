"""The field types every event shares: ids, money, codes and UTC timestamps.

They are strict on purpose. A producer that sends ``"100"`` or ``100.0`` for an amount has a bug,
and coercing it would hide that bug from the one place (the contract) able to catch it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from payevents.currencies import ISO_4217_CODES
from payevents.rules import field_type_rule


class StrictSchema(Schema):
    """Unknown fields are an error: a misspelt field must fail in the producer, not vanish."""

    class Meta:
        unknown = RAISE


class FullMatch(validate.Regexp):
    """A pattern the whole value must match; marshmallow's Regexp only anchors at the start."""

    def __init__(self, pattern: str, *, error: str | None = None) -> None:
        super().__init__(pattern, error=error)
        self.full_regex = re.compile(pattern)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.full_regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def pattern_flags(validator: validate.Regexp) -> int:
    """Flags beyond the default ``re.UNICODE`` of a str pattern: they change what it matches."""
    return int(validator.regex.flags) & ~re.UNICODE


# Validators whose whole behaviour is their parameters, so the compatibility check and the
# export can read them; a subclass could do anything in __call__ and is treated as opaque.
PARAMETER_VALIDATORS: tuple[type[validate.Validator], ...] = (
    validate.OneOf,
    validate.Range,
    validate.Length,
    validate.Regexp,
    FullMatch,
)


@field_type_rule(
    "json_string",
    "A JSON string: bytes and every other value are refused.",
    expressed=True,  # "type": "string" says exactly this: JSON has no bytes
)
class Text(fields.String):
    """A string that must arrive as ``str``; bytes are a producer bug, not text."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


def format_utc(moment: datetime) -> str:
    """One wire format for every timestamp, so equal instants always serialise equally."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("refusing to serialise a naive datetime: its time zone is unknown")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@field_type_rule(
    "utc_timestamp",
    "An ISO 8601 date and time with an explicit offset (Z or +hh:mm), as Python's "
    "datetime.fromisoformat reads it; a timestamp without an offset is refused. "
    '"format": "date-time" only annotates this: validators need not assert formats, and '
    "RFC 3339 differs at the edges (the runtime also reads a space for T, +hhmm or a week date, "
    "and refuses second 60). Producers always write YYYY-MM-DDTHH:MM:SS.ffffffZ.",
)
class UtcDateTime(fields.DateTime):
    """An ISO 8601 timestamp with an explicit offset, normalised to UTC.

    A naive timestamp is rejected because its zone would be a guess.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as error:
                raise self.make_error("invalid", input=value, obj_type="datetime") from error
        else:
            raise self.make_error("invalid", input=value, obj_type="datetime")
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValidationError("Not a timezone-aware datetime (add Z or +00:00).")
        return parsed.astimezone(UTC)

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else format_utc(value)


MAX_AMOUNT = 2**53 - 1
IDENTIFIER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"
PAYMENT_ID_PATTERN = r"PAY_[A-Za-z0-9_-]{1,60}"
CODE_PATTERN = r"[a-z][a-z0-9_]{0,63}"
CURRENCY_PATTERN = r"[A-Z]{3}"


def _describe(description: str) -> dict[str, Any]:
    return {"description": description}


def identifier(description: str, *, optional: bool = False) -> fields.Field[Any]:
    return _text(description, [FullMatch(IDENTIFIER_PATTERN)], optional=optional)


def payment_id(
    description: str = "The platform's payment reference.", *, optional: bool = False
) -> fields.Field[Any]:
    return _text(description, [FullMatch(PAYMENT_ID_PATTERN)], optional=optional)


def code(description: str, *, optional: bool = False) -> fields.Field[Any]:
    """A stable snake_case code consumers may branch on, unlike free text."""
    return _text(description, [FullMatch(CODE_PATTERN)], optional=optional)


def free_text(description: str, *, max_length: int = 500) -> fields.Field[Any]:
    """Human-readable text: always optional, never something to branch on."""
    return _text(description, [validate.Length(max=max_length)], optional=True)


def currency(
    description: str = "ISO 4217 currency code.", *, optional: bool = False
) -> fields.Field[Any]:
    validators = [
        FullMatch(CURRENCY_PATTERN, error="Not a three-letter upper-case currency code."),
        validate.OneOf(sorted(ISO_4217_CODES), error="Not a known ISO 4217 currency code."),
    ]
    return _text(description, validators, optional=optional)


def amount(description: str, *, minimum: int | None = 1, optional: bool = False) -> fields.Integer:
    """Money in minor units. ``minimum=None`` is for amounts that may really be negative.

    Amounts are capped at what every JSON parser (including JavaScript's) reads exactly.
    """
    low = -MAX_AMOUNT if minimum is None else minimum
    validators = [validate.Range(min=low, max=MAX_AMOUNT)]
    if optional:
        return fields.Integer(
            strict=True, load_default=None, validate=validators, metadata=_describe(description)
        )
    return fields.Integer(
        strict=True, required=True, validate=validators, metadata=_describe(description)
    )


def count(description: str) -> fields.Integer:
    return fields.Integer(
        strict=True,
        required=True,
        validate=[validate.Range(min=0)],
        metadata=_describe(description),
    )


def attempt(description: str) -> fields.Integer:
    """A 1-based attempt number (the first try is 1)."""
    return fields.Integer(
        strict=True,
        required=True,
        validate=[validate.Range(min=1)],
        metadata=_describe(description),
    )


def timestamp(description: str) -> UtcDateTime:
    return UtcDateTime(required=True, metadata=_describe(description))


def choice(description: str, choices: tuple[str, ...], *, default: str | None = None) -> Text:
    if default is not None:
        return Text(
            load_default=default, validate=validate.OneOf(choices), metadata=_describe(description)
        )
    return Text(required=True, validate=validate.OneOf(choices), metadata=_describe(description))


def _text(description: str, validators: list[Any], *, optional: bool) -> Text:
    if optional:
        return Text(load_default=None, validate=validators, metadata=_describe(description))
    return Text(required=True, validate=validators, metadata=_describe(description))

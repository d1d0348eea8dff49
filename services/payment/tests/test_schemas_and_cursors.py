"""What the HTTP layer lets through to the handlers: request schemas and list cursors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import ValidationError

from payevents.strict_json import has_lone_surrogate
from payment_service.domain.payment import Payment
from payment_service.entrypoints.representations import decode_cursor, encode_cursor
from payment_service.entrypoints.schemas import CreatePaymentSchema

CURRENCIES = frozenset({"EUR", "USD"})
MAX_AMOUNT = 1_000_000
MAX_METADATA_KEYS = 3
VALID_BODY: dict[str, Any] = {"amount": 2500, "currency": "EUR", "payment_method": "pm_card_visa"}


def create_schema() -> CreatePaymentSchema:
    return CreatePaymentSchema(
        currencies=CURRENCIES, max_amount=MAX_AMOUNT, max_metadata_keys=MAX_METADATA_KEYS
    )


def test_a_minimal_payment_request_loads_with_empty_description_and_metadata() -> None:
    assert create_schema().load(VALID_BODY) == {
        **VALID_BODY,
        "description": None,
        "metadata": {},
    }


def test_a_payment_request_at_every_limit_loads() -> None:
    body = {
        "amount": MAX_AMOUNT,
        "currency": "USD",
        "payment_method": "pm_" + "a" * 60,
        "description": "d" * 255,
        "metadata": {"k" * 40: "v" * 500, "b": "", "c": "3"},
    }

    assert create_schema().load(body) == body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 25.0),
        ("amount", 25.5),
        ("amount", True),
        ("amount", "2500"),
        ("amount", None),
        ("amount", 0),
        ("amount", -100),
        ("amount", MAX_AMOUNT + 1),
        ("currency", "JPY"),
        ("currency", "eur"),
        ("payment_method", "card_visa"),
        ("payment_method", "pm_"),
        ("payment_method", "pm_Card_Visa"),
        ("description", "d" * 256),
        ("metadata", {f"key{n}": "v" for n in range(MAX_METADATA_KEYS + 1)}),
        ("metadata", {"k" * 41: "v"}),
        ("metadata", {"": "v"}),
        ("metadata", {"k": "v" * 501}),
        ("metadata", {"k": 1}),
        ("metadata", ["k", "v"]),
        ("description", "nul \x00 inside"),
        ("metadata", {"k": "nul \x00 inside"}),
        ("metadata", {"k\x00": "v"}),
    ],
)
def test_a_payment_request_with_a_bad_field_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        create_schema().load({**VALID_BODY, field: value})

    assert field in refused.value.messages


@pytest.mark.parametrize("method", ["pm_card_visa; DROP TABLE payments", "pm_" + "a" * 200])
def test_a_payment_method_with_trailing_junk_is_refused(method: str) -> None:
    with pytest.raises(ValidationError) as refused:
        create_schema().load({**VALID_BODY, "payment_method": method})

    assert "payment_method" in refused.value.messages


def test_a_payment_request_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        create_schema().load({**VALID_BODY, "capture_method": "manual"})

    assert "capture_method" in refused.value.messages


@pytest.mark.parametrize("field", ["amount", "currency", "payment_method"])
def test_a_payment_request_missing_a_required_field_is_refused(field: str) -> None:
    body = {name: value for name, value in VALID_BODY.items() if name != field}

    with pytest.raises(ValidationError) as refused:
        create_schema().load(body)

    assert field in refused.value.messages


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1, minutes=30))),
    ],
)
def test_a_cursor_decodes_to_the_position_it_was_made_from(created_at: datetime) -> None:
    payment = Payment(
        "PAY_cursor-1", "MER_cursor", 100, "EUR", "pm_card_visa", created_at=created_at
    )

    assert decode_cursor(encode_cursor(payment.created_at, payment.id)) == (
        created_at,
        "PAY_cursor-1",
    )


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        "é",
        cursor_of(b"\xff\xfe"),
        cursor_of(b"not json"),
        cursor_of(b"null"),
        cursor_of(b"42"),
        cursor_of(b'{"created_at": "2025-03-01T12:00:00+00:00"}'),
        cursor_of(b'["2025-03-01T12:00:00+00:00"]'),
        cursor_of(b'["2025-03-01T12:00:00+00:00", "PAY_1", "extra"]'),
        cursor_of(b'["2025-03-01T12:00:00", "PAY_1"]'),
        cursor_of(b'["yesterday", "PAY_1"]'),
        cursor_of(b'[20250301, "PAY_1"]'),
        cursor_of(b'["2025-03-01T12:00:00+00:00", 42]'),
        cursor_of(b'["2025-03-01T12:00:00+00:00", "PAY_\\u0000"]'),
        cursor_of(b'["2025-03-01T12:00:00+00:00", "PAY_\\ud800"]'),
    ],
)
def test_a_cursor_this_service_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        decode_cursor(cursor)


@pytest.mark.parametrize(
    "body",
    [
        {"description": "\ud800"},
        {"metadata": {"k": "x\udfff"}},
        {"\udc00": 1},
        {"nested": [{"deep": ["\ud83d"]}]},
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_found(body: dict[str, Any]) -> None:
    assert has_lone_surrogate(body)


def test_a_body_of_real_unicode_has_no_lone_surrogate() -> None:
    assert not has_lone_surrogate({"description": "caf\u00e9 \U0001f600", "metadata": {"k": ""}})

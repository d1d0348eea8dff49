"""Request bodies the simulator accepts, parsed strictly: a wrong type is refused, not coerced."""

from collections.abc import Mapping
from typing import Any

from flask import request
from marshmallow import ValidationError, fields, validate

from payevents.fieldtypes import (
    StrictSchema,
    Text,
    amount,
    attempt,
    currency,
    identifier,
    payment_id,
)
from paykit.problems import Problem
from psp_simulator.domain.faults import MAX_HANG_CALLS, MAX_HANG_MS, MAX_LATENCY_MS

_TOKEN_LENGTH = validate.Length(min=1, max=64)


class ChargeRequest(StrictSchema):
    amount = amount("Amount to charge, in minor units.")
    currency = currency()
    # Any string is parsed; whether it is a known test token is the domain's call (422).
    payment_method = Text(required=True, validate=_TOKEN_LENGTH)
    reference = payment_id()


class RefundRequest(StrictSchema):
    charge_id = Text(required=True, validate=_TOKEN_LENGTH)
    amount = amount("Amount to refund, in minor units.")
    reference = identifier("The platform's refund reference.")


class PayoutRequest(StrictSchema):
    batch_id = identifier("The platform's settlement batch id.")
    attempt = attempt("Which attempt at paying the batch this is, from 1.")
    merchant_id = identifier("The merchant being paid.")
    amount = amount("Amount to pay out, in minor units.")
    currency = currency()
    # Any account is parsed; the test accounts that fail are the domain's business.
    bank_account = Text(required=True, validate=_TOKEN_LENGTH)


class _StrictBoolean(fields.Boolean):
    """Only JSON true and false: 1 and "yes" are a client bug here."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _Fraction(fields.Float):
    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return float(value)


class FaultsRequest(StrictSchema):
    """The faults to apply from now on; a field left out means that fault is off."""

    latency_ms = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_LATENCY_MS)
    )
    error_rate = _Fraction(load_default=0.0, validate=validate.Range(min=0.0, max=1.0))
    down = _StrictBoolean(load_default=False)
    silent = _StrictBoolean(load_default=False)
    hang_ms = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_HANG_MS)
    )
    hang_calls = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_HANG_CALLS)
    )
    hang_payment_method = Text(load_default=None, validate=_TOKEN_LENGTH)


def parse(schema: StrictSchema, body: Mapping[str, Any]) -> dict[str, Any]:
    """The loaded body, or a 400 problem listing every field in error."""
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as error:
        raise Problem(
            400,
            "invalid_request",
            detail="Some fields are missing or invalid.",
            extra={"errors": error.messages},
        ) from None
    return loaded


def reference_query() -> str:
    """The required `?reference=` of a lookup by the platform's payment reference."""
    reference = request.args.get("reference", "").strip()
    if not reference:
        raise Problem(400, "invalid_request", detail="Give ?reference=PAY_....")
    return reference

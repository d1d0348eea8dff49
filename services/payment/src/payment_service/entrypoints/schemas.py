"""Request validation: marshmallow schemas that refuse anything they do not recognise.

Text the database cannot store is refused here with a 4xx: a NUL character (PostgreSQL text
cannot hold one) in what is stored. Lone surrogates are refused for every body, and every
Kafka message, by ``payevents.strict_json``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from payevents.fieldtypes import FullMatch
from payment_service.domain.payment import PaymentStatus

PAYMENT_METHOD = r"pm_[a-z0-9_]{1,60}"
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Must not contain a NUL character.")


class StrictInt(fields.Integer):
    """An integer that is really one in the JSON: no floats, strings or booleans."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


class CreatePaymentSchema(Schema):
    class Meta:
        unknown = RAISE

    amount = StrictInt(required=True, strict=True)
    currency = fields.String(required=True)
    payment_method = fields.String(required=True, validate=FullMatch(PAYMENT_METHOD))
    description = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=255), NO_NUL]
    )
    metadata = fields.Dict(
        keys=fields.String(validate=[validate.Length(min=1, max=40), NO_NUL]),
        values=fields.String(validate=[validate.Length(max=500), NO_NUL]),
        load_default=dict,
    )

    def __init__(self, *, currencies: frozenset[str], max_amount: int, max_metadata_keys: int):
        super().__init__()
        self.currencies = currencies
        self.max_amount = max_amount
        self.max_metadata_keys = max_metadata_keys

    @validates_schema
    def _limits(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        amount = data.get("amount")
        if amount is not None and not 1 <= amount <= self.max_amount:
            errors["amount"] = [f"Must be between 1 and {self.max_amount} minor units."]
        if data.get("currency") not in self.currencies:
            errors["currency"] = [f"Must be one of {', '.join(sorted(self.currencies))}."]
        if len(data.get("metadata", {})) > self.max_metadata_keys:
            errors["metadata"] = [f"At most {self.max_metadata_keys} keys."]
        if errors:
            raise ValidationError(errors)


class CreateRefundSchema(Schema):
    class Meta:
        unknown = RAISE

    amount = StrictInt(load_default=None, strict=True, validate=validate.Range(min=1))
    reason = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=255), NO_NUL]
    )


class PageSchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


class ListPaymentsSchema(PageSchema):
    status = fields.Enum(PaymentStatus, by_value=True, load_default=None)
    created_gte = fields.AwareDateTime(load_default=None)
    created_lt = fields.AwareDateTime(load_default=None)


class ListReportsSchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))

"""Request schemas of the read API and of adjustments."""

from __future__ import annotations

import base64
import binascii

from marshmallow import Schema, fields, validate

from payevents import fieldtypes as f
from payevents.fieldtypes import UtcDateTime

MAX_PAGE = 200


class AsOfSchema(Schema):
    as_of = UtcDateTime(load_default=None)


class PlatformBalancesSchema(AsOfSchema):
    merchant_id = f.identifier("A merchant, instead of the platform's accounts.", optional=True)


class EntriesPageSchema(Schema):
    currency = f.currency()
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


TRANSACTION_KINDS = (
    "payment",
    "payment_reversal",
    "refund",
    "settlement",
    "payout",
    "payout_reversal",
    "adjustment",
)


class TransactionsInPeriodSchema(Schema):
    """``from`` and ``to`` bound the effective time, [from, to); ``kind`` may repeat."""

    start = UtcDateTime(required=True, data_key="from")
    end = UtcDateTime(required=True, data_key="to")
    kind = fields.List(fields.String(validate=validate.OneOf(TRANSACTION_KINDS)), load_default=None)
    merchant_id = f.identifier("Only this merchant's transactions.", optional=True)
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE))


class AdjustmentEntrySchema(Schema):
    account = f.identifier("An account of the chart.")
    direction = f.choice("Side of the entry.", ("debit", "credit"))
    amount = f.amount("Minor units.")


class AdjustmentSchema(Schema):
    currency = f.currency()
    entries = fields.List(
        fields.Nested(AdjustmentEntrySchema), required=True, validate=validate.Length(min=2, max=50)
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    effective_at = UtcDateTime(load_default=None)


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor of this API") from None
    if not raw.startswith("e") or not raw[1:].isdigit():
        raise ValueError("not a cursor of this API")
    return int(raw[1:])

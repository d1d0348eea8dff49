"""Request schemas and cursors of the settlement API."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from marshmallow import Schema, fields, validate

from payevents.fieldtypes import UtcDateTime
from payevents.statuses import BATCH_STATUSES

BANK_ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"  # what the bank accepts


class RunSchema(Schema):
    cutoff = UtcDateTime(required=True)


class RetrySchema(Schema):
    """An operator's retry; ``bank_account`` corrects the account the failed attempt used."""

    bank_account = fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=64), validate.Regexp(BANK_ACCOUNT_PATTERN)],
    )


class BatchesPageSchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(BATCH_STATUSES))
    currency = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Z]{3}$"))
    from_ = UtcDateTime(data_key="from", load_default=None)
    to = UtcDateTime(load_default=None)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)


def encode_cursor(created_at: datetime, batch_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{batch_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, batch_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        if not batch_id:
            raise ValueError("no batch id")
        return datetime.fromisoformat(created), batch_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"not a cursor of this list: {error}") from None

"""The public API's bodies as marshmallow schemas: the OpenAPI document is generated from these.

Request schemas name exactly the fields a client may send (the gateway refuses any other, see
``entrypoints/proxy.py``); the value rules that depend on the payment service's configuration
(currencies, the largest amount) are the payment service's to judge and are not repeated here.
Response schemas describe what the services answer; nullable fields say so.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

PAYMENT_STATUSES = (
    "created",
    "processing",
    "succeeded",
    "failed",
    "canceled",
    "partially_refunded",
    "refunded",
)
REFUND_STATUSES = ("requested", "succeeded", "failed")
MERCHANT_ACCOUNTS = ("escrow", "payable", "receivable")
SETTLEMENT_STATUSES = ("open", "closed", "submitted", "paid", "failed")


def _currency(**kwargs: object) -> fields.String:
    return fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$"),
        metadata={"description": "ISO 4217 code", "example": "EUR"},
        **kwargs,  # type: ignore[arg-type]
    )


class Answer(Schema):
    """A response body: a service may add members over time, so clients must accept more."""

    class Meta:
        unknown = INCLUDE


class CreatePaymentRequest(Schema):
    amount = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "Minor units (cents).", "example": 2500},
    )
    currency = _currency(required=True)
    payment_method = fields.String(
        required=True,
        validate=validate.Regexp(r"^pm_[a-z0-9_]{1,60}$"),
        metadata={
            "description": "A test token; it decides the simulated outcome.",
            "example": "pm_card_visa",
        },
    )
    description = fields.String(
        allow_none=True, validate=validate.Length(max=255), metadata={"example": "Order 1234"}
    )
    metadata = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=fields.String(validate=validate.Length(max=500)),
    )


class CreateRefundRequest(Schema):
    amount = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "Minor units; the whole captured remainder when left out."},
    )
    reason = fields.String(allow_none=True, validate=validate.Length(max=255))


class Payment(Answer):
    id = fields.String(required=True, metadata={"example": "PAY_7NQ2XK4M9R1B3C5D6E8F0G2H"})
    object = fields.String(required=True, validate=validate.OneOf(["payment"]))
    status = fields.String(required=True, validate=validate.OneOf(PAYMENT_STATUSES))
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    merchant_id = fields.String(required=True)
    payment_method = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    amount_refunded = fields.Integer(required=True)
    failure_code = fields.String(required=True, allow_none=True)
    failure_message = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True, allow_none=True)


class Refund(Answer):
    id = fields.String(required=True, metadata={"example": "RFD_7NQ2XK4M9R1B3C5D6E8F0G2H"})
    object = fields.String(required=True, validate=validate.OneOf(["refund"]))
    payment_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REFUND_STATUSES))
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    failure_code = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True, allow_none=True)


class _Page(Answer):
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Pass as `cursor` for more."}
    )


class PaymentList(_Page):
    data = fields.List(fields.Nested(Payment), required=True)


class RefundList(_Page):
    data = fields.List(fields.Nested(Refund), required=True)


class CurrencyBalance(Answer):
    currency = fields.String(required=True)
    escrow = fields.Integer(required=True, metadata={"description": "Held until a batch closes."})
    payable = fields.Integer(required=True, metadata={"description": "On its way out."})
    receivable = fields.Integer(required=True, metadata={"description": "Owed by the merchant."})


class Balances(Answer):
    merchant_id = fields.String(required=True)
    as_of = fields.DateTime(required=True, allow_none=True)
    data = fields.List(fields.Nested(CurrencyBalance), required=True)


class LedgerEntry(Answer):
    id = fields.String(required=True)
    transaction_id = fields.String(required=True)
    kind = fields.String(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(["debit", "credit"]))
    amount = fields.Integer(required=True)
    effective_at = fields.DateTime(required=True)
    recorded_at = fields.DateTime(required=True, allow_none=True)


class LedgerEntryList(_Page):
    account = fields.String(required=True)
    currency = fields.String(required=True)
    data = fields.List(fields.Nested(LedgerEntry), required=True)


class Settlement(Answer):
    """A settlement batch; the items and payout attempts come with one batch, not in lists."""

    id = fields.String(required=True)
    merchant_id = fields.String(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SETTLEMENT_STATUSES))
    created_at = fields.DateTime(required=True)


class SettlementList(_Page):
    data = fields.List(fields.Nested(Settlement), required=True)


class ProblemDetails(Answer):
    """RFC 9457; clients branch on `code`, which is stable."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "Per field, what is wrong with it."})
    reason = fields.String(metadata={"description": "Why a token was refused."})


class TokenRequest(Schema):
    """Client credentials (OAuth 2, RFC 6749 4.4), as JSON or as the form."""

    grant_type = fields.String(
        validate=validate.OneOf(["client_credentials"]),
        metadata={"description": "Required in the form; optional in JSON."},
    )
    client_id = fields.String(
        validate=validate.Length(max=200), metadata={"example": "cli_8GkQ2tVb3hWm"}
    )
    client_secret = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "The `sk_test_...` secret shown once at its creation."},
    )


class TokenResponse(Answer):
    access_token = fields.String(
        required=True, metadata={"description": "An RS256 JWT; send it as `Bearer`."}
    )
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds it is valid."})
    scope = fields.String(required=True, metadata={"example": "payments:read payments:write"})


class JsonWebKey(Answer):
    kty = fields.String(required=True, metadata={"example": "RSA"})
    kid = fields.String(required=True)
    use = fields.String(metadata={"example": "sig"})
    alg = fields.String(metadata={"example": "RS256"})
    n = fields.String(required=True)
    e = fields.String(required=True)


class JsonWebKeySet(Answer):
    """RFC 7517: the keys that verify tokens now (the signing one and any still published)."""

    keys = fields.List(fields.Nested(JsonWebKey), required=True)

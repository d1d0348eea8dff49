"""The public API's bodies as marshmallow schemas: the OpenAPI document is generated from these.

Request schemas name exactly the fields a client may send (the gateway refuses any other, see
``entrypoints/proxy.py``); the value rules that depend on the payment service's configuration
(currencies, the largest amount) are the payment service's to judge and are not repeated here.
Response schemas describe what the services answer; nullable fields say so.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from payevents.statuses import BATCH_STATUSES, PAYMENT_STATUSES, REFUND_STATUSES

MERCHANT_ACCOUNTS = ("escrow", "payable", "receivable")


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
    payment_id = fields.String(
        required=True, allow_none=True, metadata={"description": "The payment it moved, if any."}
    )
    refund_id = fields.String(required=True, allow_none=True)
    settlement_batch_id = fields.String(required=True, allow_none=True)
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
    status = fields.String(required=True, validate=validate.OneOf(BATCH_STATUSES))
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


WEBHOOK_EVENT_TYPES = (
    "payment.succeeded",
    "payment.failed",
    "refund.succeeded",
    "refund.failed",
    "settlement.batch_paid",
    "settlement.batch_failed",
)
WEBHOOK_MESSAGE_STATES = ("pending", "delivered", "failed", "held")


def _event_types(**kwargs: object) -> fields.List[Any]:
    return fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENT_TYPES)),
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENT_TYPES)),
        metadata={"description": "The events to receive.", "example": ["payment.succeeded"]},
        **kwargs,  # type: ignore[arg-type]
    )


class CreateWebhookEndpointRequest(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2048),
        metadata={
            "description": "http(s) URL on a public address; no credentials, no fragment.",
            "example": "https://shop.example/hooks/payments",
        },
    )
    event_types = _event_types(required=True)
    description = fields.String(validate=validate.Length(max=255))
    enabled = fields.Boolean(metadata={"description": "Default true."})


class UpdateWebhookEndpointRequest(Schema):
    url = fields.String(validate=validate.Length(min=1, max=2048))
    event_types = _event_types()
    description = fields.String(validate=validate.Length(max=255))
    enabled = fields.Boolean(
        metadata={"description": "true again after a disable resumes what is pending."}
    )


class RotateWebhookSecretRequest(Schema):
    overlap_seconds = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=7 * 86400),
        metadata={"description": "How long the old secret keeps signing; default 86400."},
    )


class RedeliverWebhooksRequest(Schema):
    event_id = fields.String(metadata={"description": "One event to send again."})
    since = fields.DateTime(metadata={"description": "Or every event since then."})


class WebhookEndpoint(Answer):
    id = fields.String(required=True, metadata={"example": "we_3f9c2a7d1e5b8c0a4f6d2e1b"})
    url = fields.String(required=True)
    description = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(["disabled_by_merchant", "failing"]),
        metadata={"description": "failing: every attempt failed for the whole retry horizon."},
    )
    disabled_at = fields.DateTime(required=True, allow_none=True)
    last_success_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WebhookEndpointCreated(WebhookEndpoint):
    secret = fields.String(
        metadata={
            "description": "whsec_...: shown in this answer only (and its idempotent replay).",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
    )


class WebhookSecretInForce(Answer):
    id = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "null: the current secret."}
    )


class WebhookNotice(Answer):
    id = fields.String(required=True)
    type = fields.String(required=True, metadata={"example": "webhook_endpoint.disabled"})
    occurred_at = fields.DateTime(required=True)
    detail = fields.String(required=True)


class WebhookEndpointDetails(WebhookEndpoint):
    secrets = fields.List(fields.Nested(WebhookSecretInForce), required=True)
    notices = fields.List(fields.Nested(WebhookNotice), required=True)


class WebhookEndpointList(_Page):
    data = fields.List(fields.Nested(WebhookEndpoint), required=True)


class WebhookSecretRotation(Answer):
    id = fields.String(required=True)
    secret = fields.String(metadata={"description": "The new secret, shown once."})
    previous_secret_expires_at = fields.DateTime(required=True, allow_none=True)


class WebhookRedelivery(Answer):
    id = fields.String(required=True)
    redelivered = fields.Integer(required=True)


class WebhookMessage(Answer):
    id = fields.String(required=True, metadata={"description": "The webhook-id header."})
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(WEBHOOK_MESSAGE_STATES))
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    last_attempt_at = fields.DateTime(required=True, allow_none=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)


class WebhookMessageList(_Page):
    data = fields.List(fields.Nested(WebhookMessage), required=True)


class WebhookAttempt(Answer):
    id = fields.String(required=True)
    message_id = fields.String(required=True)
    event_type = fields.String(required=True)
    attempt = fields.Integer(required=True)
    started_at = fields.DateTime(required=True)
    outcome = fields.String(
        required=True, validate=validate.OneOf(["in_flight", "succeeded", "failed", "abandoned"])
    )
    http_status = fields.Integer(required=True, allow_none=True)
    latency_ms = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    response_excerpt = fields.String(
        required=True, allow_none=True, metadata={"description": "The answer's first 1 KiB."}
    )


class WebhookAttemptList(_Page):
    data = fields.List(fields.Nested(WebhookAttempt), required=True)

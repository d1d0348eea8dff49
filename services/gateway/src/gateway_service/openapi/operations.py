"""Every public /v1 operation in one table: the proxy registers its routes from it, and the
OpenAPI document is built from it, so nothing can be served undocumented or documented unserved.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Final

from marshmallow import Schema

from gateway_service.openapi import schemas
from payevents.statuses import BATCH_STATUSES, PAYMENT_STATUSES


class Upstream(enum.Enum):
    PAYMENT = "payment"
    LEDGER = "ledger"
    SETTLEMENT = "settlement"
    WEBHOOK = "webhook"
    GATEWAY = "gateway"  # served by the gateway itself (tokens), not proxied


class RouteClass(enum.Enum):
    """Which per-merchant rate limit a request spends."""

    WRITE = "write"
    READ = "read"


READ_SCOPE: Final = "payments:read"
WRITE_SCOPE: Final = "payments:write"
# Methods that change something: they need the write scope and spend the write rate limit.
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDENTIFIER: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class QueryParameter:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    into_path: bool = False  # the upstream takes it as a path segment, not a query


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    upstream: Upstream
    upstream_path: str
    summary: str
    tag: str
    response: type[Schema] | None
    status: int = 200
    media_type: str = "application/json"
    request_body: type[Schema] | None = None
    query: tuple[QueryParameter, ...] = field(default_factory=tuple)

    @property
    def changes_state(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def route_class(self) -> RouteClass:
        return RouteClass.WRITE if self.changes_state else RouteClass.READ

    @property
    def scope(self) -> str:
        return WRITE_SCOPE if self.changes_state else READ_SCOPE

    @property
    def needs_idempotency_key(self) -> bool:
        """Only a POST may make something twice; a DELETE, PUT or PATCH repeated ends the same."""
        return self.method == "POST" and self.upstream is not Upstream.GATEWAY

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def flask_rule(self) -> str:
        return _PATH_PARAMETER.sub(r"<\1>", self.path)


# Cursors are URL-safe base64. The pattern keeps any cursor a client may send to 200 bytes on
# the request line (a 200-character string of other characters percent-encodes to up to 2,400,
# and with the other parameters could pass gunicorn's 4,094-byte request-line limit, which is
# answered 414 outside this document).
_CURSOR: Final = {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9_-]*={0,2}$"}


def _page(extra: tuple[QueryParameter, ...] = (), *, most: int = 100) -> tuple[QueryParameter, ...]:
    return (
        *extra,
        QueryParameter("limit", {"type": "integer", "minimum": 1, "maximum": most}),
        QueryParameter("cursor", _CURSOR, "From `next_cursor`."),
    )


_TIME: Final = {"type": "string", "format": "date-time"}
_CURRENCY: Final = {"type": "string", "pattern": "^[A-Z]{3}$"}

# Merchants' webhook endpoints, served by the webhook service (its /webhook_endpoints routes at
# WEBHOOK_URL); tests/edge/test_webhook_endpoint_operations.py holds them to the service's routes.
_ENDPOINT: Final = "/v1/webhook_endpoints/{endpoint_id}"
_UPSTREAM_ENDPOINT: Final = "/webhook_endpoints/{endpoint_id}"

WEBHOOK_ENDPOINT_OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "createWebhookEndpoint",
        "POST",
        "/v1/webhook_endpoints",
        Upstream.WEBHOOK,
        "/webhook_endpoints",
        "Register a webhook endpoint; its signing secret is shown in this answer only",
        "Webhooks",
        schemas.WebhookEndpointCreated,
        status=201,
        request_body=schemas.CreateWebhookEndpointRequest,
    ),
    Operation(
        "listWebhookEndpoints",
        "GET",
        "/v1/webhook_endpoints",
        Upstream.WEBHOOK,
        "/webhook_endpoints",
        "List your webhook endpoints, oldest first",
        "Webhooks",
        schemas.WebhookEndpointList,
        query=_page(),
    ),
    Operation(
        "getWebhookEndpoint",
        "GET",
        _ENDPOINT,
        Upstream.WEBHOOK,
        _UPSTREAM_ENDPOINT,
        "Retrieve an endpoint, the secrets in force (never their values) and its notices",
        "Webhooks",
        schemas.WebhookEndpointDetails,
    ),
    Operation(
        "updateWebhookEndpoint",
        "POST",
        _ENDPOINT,
        Upstream.WEBHOOK,
        _UPSTREAM_ENDPOINT,
        "Change an endpoint's URL, events or description, or disable or enable it",
        "Webhooks",
        schemas.WebhookEndpoint,
        request_body=schemas.UpdateWebhookEndpointRequest,
    ),
    Operation(
        "deleteWebhookEndpoint",
        "DELETE",
        _ENDPOINT,
        Upstream.WEBHOOK,
        _UPSTREAM_ENDPOINT,
        "Delete an endpoint and its delivery log",
        "Webhooks",
        None,
        status=204,
    ),
    Operation(
        "rotateWebhookSecret",
        "POST",
        f"{_ENDPOINT}/rotate_secret",
        Upstream.WEBHOOK,
        f"{_UPSTREAM_ENDPOINT}/rotate_secret",
        "A new signing secret; the old one keeps signing beside it for the overlap",
        "Webhooks",
        schemas.WebhookSecretRotation,
        request_body=schemas.RotateWebhookSecretRequest,
    ),
    Operation(
        "redeliverWebhooks",
        "POST",
        f"{_ENDPOINT}/redeliveries",
        Upstream.WEBHOOK,
        f"{_UPSTREAM_ENDPOINT}/redeliveries",
        "Send one event again (event_id), or every event since a time (since)",
        "Webhooks",
        schemas.WebhookRedelivery,
        status=202,
        request_body=schemas.RedeliverWebhooksRequest,
    ),
    Operation(
        "listWebhookMessages",
        "GET",
        f"{_ENDPOINT}/messages",
        Upstream.WEBHOOK,
        f"{_UPSTREAM_ENDPOINT}/messages",
        "One line per event for the endpoint, newest first, with its delivery state",
        "Webhooks",
        schemas.WebhookMessageList,
        query=_page(
            (
                QueryParameter(
                    "state", {"type": "string", "enum": list(schemas.WEBHOOK_MESSAGE_STATES)}
                ),
            )
        ),
    ),
    Operation(
        "listWebhookAttempts",
        "GET",
        f"{_ENDPOINT}/attempts",
        Upstream.WEBHOOK,
        f"{_UPSTREAM_ENDPOINT}/attempts",
        "The delivery log: every call, newest first, with status, latency and the answer",
        "Webhooks",
        schemas.WebhookAttemptList,
        query=_page(
            (QueryParameter("message_id", {"type": "string", "pattern": IDENTIFIER}),), most=200
        ),
    ),
)

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "createPayment",
        "POST",
        "/v1/payments",
        Upstream.PAYMENT,
        "/payments",
        "Create a payment",
        "Payments",
        schemas.Payment,
        status=201,
        request_body=schemas.CreatePaymentRequest,
    ),
    Operation(
        "listPayments",
        "GET",
        "/v1/payments",
        Upstream.PAYMENT,
        "/payments",
        "List payments, newest first",
        "Payments",
        schemas.PaymentList,
        query=_page(
            (
                QueryParameter("status", {"type": "string", "enum": list(PAYMENT_STATUSES)}),
                QueryParameter("created_gte", _TIME),
                QueryParameter("created_lt", _TIME),
            )
        ),
    ),
    Operation(
        "getPayment",
        "GET",
        "/v1/payments/{payment_id}",
        Upstream.PAYMENT,
        "/payments/{payment_id}",
        "Retrieve a payment",
        "Payments",
        schemas.Payment,
    ),
    Operation(
        "createRefund",
        "POST",
        "/v1/payments/{payment_id}/refunds",
        Upstream.PAYMENT,
        "/payments/{payment_id}/refunds",
        "Refund a payment, fully or partly",
        "Refunds",
        schemas.Refund,
        status=201,
        request_body=schemas.CreateRefundRequest,
    ),
    Operation(
        "listRefunds",
        "GET",
        "/v1/payments/{payment_id}/refunds",
        Upstream.PAYMENT,
        "/payments/{payment_id}/refunds",
        "List a payment's refunds, oldest first",
        "Refunds",
        schemas.RefundList,
        query=_page(),
    ),
    Operation(
        "getBalances",
        "GET",
        "/v1/balances",
        Upstream.LEDGER,
        "/balances",
        "Escrow, payable and receivable per currency",
        "Ledger",
        schemas.Balances,
        query=(QueryParameter("as_of", _TIME, "Sum the entries effective by then."),),
    ),
    Operation(
        "listLedgerEntries",
        "GET",
        "/v1/ledger/entries",
        Upstream.LEDGER,
        "/accounts/{account}/entries",
        "List one of your accounts' entries, newest first",
        "Ledger",
        schemas.LedgerEntryList,
        query=_page(
            (
                QueryParameter(
                    "account",
                    {"type": "string", "enum": list(schemas.MERCHANT_ACCOUNTS)},
                    required=True,
                    into_path=True,
                ),
                QueryParameter("currency", _CURRENCY, required=True),
            ),
            most=200,
        ),
    ),
    Operation(
        "listSettlements",
        "GET",
        "/v1/settlements",
        Upstream.SETTLEMENT,
        "/settlements/batches",
        "List settlement batches, newest first",
        "Settlements",
        schemas.SettlementList,
        query=_page(
            (
                QueryParameter("status", {"type": "string", "enum": list(BATCH_STATUSES)}),
                QueryParameter("currency", _CURRENCY),
                QueryParameter("from", _TIME),
                QueryParameter("to", _TIME),
            )
        ),
    ),
    Operation(
        "getSettlement",
        "GET",
        "/v1/settlements/{settlement_id}",
        Upstream.SETTLEMENT,
        "/settlements/batches/{settlement_id}",
        "Retrieve a settlement batch with its items and payout attempts",
        "Settlements",
        schemas.Settlement,
    ),
    Operation(
        "getSettlementReport",
        "GET",
        "/v1/settlements/{settlement_id}/report.csv",
        Upstream.SETTLEMENT,
        "/settlements/batches/{settlement_id}/report.csv",
        "Download a settlement batch's report as CSV",
        "Settlements",
        None,
        media_type="text/csv",
    ),
    *WEBHOOK_ENDPOINT_OPERATIONS,
)

PROXIED: Final = tuple(op for op in OPERATIONS if op.upstream is not Upstream.GATEWAY)

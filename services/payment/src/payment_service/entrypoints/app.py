"""The payment service's internal HTTP API (called by the gateway with the merchant's JWT).

Views stay thin: authorise, parse with a schema, build a command, call the use case, render.
Domain errors become problem+json in one handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema

from payevents.fieldtypes import IDENTIFIER_PATTERN
from paykit.auth.jwt import Claims
from paykit.canonical import valid_idempotency_key
from paykit.logging import configure_logging
from paykit.problems import Problem
from paykit.web import (
    create_flask_app,
    current_correlation_id,
    json_body,
    load_or_problem,
    problem_response,
)
from paykit.web_auth import BearerAuth, load_bearer_auth
from payment_service import settings as settings_module
from payment_service.bootstrap import PaymentService, bootstrap
from payment_service.domain.errors import (
    DomainError,
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsCaptured,
)
from payment_service.domain.idempotency import RequestFingerprint
from payment_service.entrypoints.representations import (
    decode_cursor,
    encode_cursor,
    payment_view,
    refund_view,
    report_view,
)
from payment_service.entrypoints.schemas import (
    CreatePaymentSchema,
    CreateRefundSchema,
    ListPaymentsSchema,
    ListReportsSchema,
    PageSchema,
)
from payment_service.service_layer import payments
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    run_once,
)
from payment_service.service_layer.unit_of_work import PaymentQuery, UnitOfWork

REPLAY_HEADER = "Idempotent-Replayed"
READ_SCOPE = "payments:read"
WRITE_SCOPE = "payments:write"
MERCHANT_ID = re.compile(IDENTIFIER_PATTERN)
DOMAIN_STATUS: dict[type[DomainError], int] = {
    PaymentNotFound: 404,
    PaymentNotRefundable: 409,
    RefundExceedsCaptured: 422,
    IdempotencyKeyReused: 422,
    IdempotencyRequestInFlight: 409,
}


def _merchant(claims: Claims) -> str:
    """The token's subject is the merchant id every event carries: it must be one."""
    if MERCHANT_ID.fullmatch(claims.subject) is None:
        raise Problem(
            403,
            "invalid_subject",
            detail="The token's subject is not a valid merchant identifier.",
        )
    return claims.subject


def _body() -> dict[str, Any]:
    return json_body()  # lone surrogates, duplicate keys and the like are refused there


def _load(schema: Schema, values: dict[str, Any], *, status: int = 422) -> dict[str, Any]:
    return load_or_problem(schema, values, status=status)


def _cursor(raw: str | None) -> Any:
    try:
        return decode_cursor(raw) if raw else None
    except ValueError as error:
        raise Problem(400, "invalid_cursor", detail=str(error)) from None


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise Problem(
            400,
            "idempotency_key_missing",
            detail="POST requests that create something need an Idempotency-Key.",
        )
    if not valid_idempotency_key(key):
        raise Problem(
            400,
            "idempotency_key_invalid",
            detail="Idempotency-Key must be 1 to 255 printable ASCII characters.",
        )
    return key


def payments_blueprint(service: PaymentService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("payments", __name__)
    config = service.settings
    create_schema = CreatePaymentSchema(
        currencies=config.currencies,
        max_amount=config.max_amount,
        max_metadata_keys=config.max_metadata_keys,
    )
    # Built once: a marshmallow schema costs a few hundred microseconds to build, a large part
    # of a request's own work; loading with a shared one is safe across threads.
    refund_schema = CreateRefundSchema()
    page_schema = PageSchema()
    reports_schema = ListReportsSchema()
    payments_query_schema = ListPaymentsSchema()

    def create_once(
        merchant: str,
        key: str,
        data: dict[str, Any],
        create: Callable[[UnitOfWork], dict[str, Any]],
    ) -> Response:
        """Run ``create`` at most once per (merchant, Idempotency-Key); replay it otherwise."""
        fingerprint = RequestFingerprint(request.method, request.path, data)
        result = run_once(
            service.transactions, merchant_id=merchant, key=key, request=fingerprint, action=create
        )
        response = jsonify(result.response.body)
        response.status_code = result.response.status
        response.headers[REPLAY_HEADER] = "true" if result.replayed else "false"
        return response

    @api.post("/payments")
    def create_payment() -> Response:
        merchant = _merchant(auth.authorise_request(WRITE_SCOPE))
        key = _idempotency_key()
        data = _load(create_schema, _body())
        command = CreatePayment(
            merchant_id=merchant, correlation_id=current_correlation_id(), **data
        )
        return create_once(
            merchant,
            key,
            data,
            lambda uow: payment_view(
                payments.create_payment(
                    command, uow, now=service.clock(), charge_within=service.stuck_after
                )
            ),
        )

    @api.post("/payments/<payment_id>/refunds")
    def create_refund(payment_id: str) -> Response:
        merchant = _merchant(auth.authorise_request(WRITE_SCOPE))
        key = _idempotency_key()
        data = _load(refund_schema, _body())
        command = RequestRefund(
            merchant_id=merchant,
            payment_id=payment_id,
            correlation_id=current_correlation_id(),
            **data,
        )
        return create_once(
            merchant,
            key,
            data,
            lambda uow: refund_view(
                payments.request_refund(
                    command, uow, now=service.clock(), send_within=service.stuck_after
                )
            ),
        )

    @api.get("/payments/<payment_id>")
    def get_payment(payment_id: str) -> Response:
        merchant = _merchant(auth.authorise_request(READ_SCOPE))
        with service.transactions() as uow:
            payment = payments.merchants_payment(uow, merchant, payment_id)
        return jsonify(payment_view(payment))

    @api.get("/payments/<payment_id>/refunds")
    def list_refunds(payment_id: str) -> Response:
        merchant = _merchant(auth.authorise_request(READ_SCOPE))
        args = _load(page_schema, request.args.to_dict(), status=400)
        after = _cursor(args["cursor"])
        with service.transactions() as uow:
            found = payments.refunds_of(
                uow, merchant, payment_id, after=after, limit=args["limit"] + 1
            )
        page, more = found[: args["limit"]], len(found) > args["limit"]
        return jsonify(
            {
                "data": [refund_view(refund) for refund in page],
                "next_cursor": encode_cursor(page[-1].created_at, page[-1].id) if more else None,
            }
        )

    @api.get("/payments/<payment_id>/reports")
    def list_reports(payment_id: str) -> Response:
        """What the PSP reported about the payment and its refunds, and what became of it."""
        merchant = _merchant(auth.authorise_request(READ_SCOPE))
        args = _load(reports_schema, request.args.to_dict(), status=400)
        with service.transactions() as uow:
            found = payments.reports_about(uow, merchant, payment_id, limit=args["limit"])
        return jsonify({"data": [report_view(stored) for stored in found]})

    @api.get("/payments")
    def list_payments() -> Response:
        merchant = _merchant(auth.authorise_request(READ_SCOPE))
        args = _load(payments_query_schema, request.args.to_dict(), status=400)
        query = PaymentQuery(
            merchant,
            args["status"],
            args["created_gte"],
            args["created_lt"],
            _cursor(args["cursor"]),
            args["limit"] + 1,
        )
        with service.transactions() as uow:
            found = uow.payments.search(query)
        page, more = found[: args["limit"]], len(found) > args["limit"]
        return jsonify(
            {
                "data": [payment_view(p) for p in page],
                "next_cursor": encode_cursor(page[-1].created_at, page[-1].id) if more else None,
            }
        )

    @api.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        status = DOMAIN_STATUS.get(type(error), 422)
        return problem_response(Problem(status, error.code, detail=str(error)))

    return api


def create_app(
    config: settings_module.PaymentSettings | None = None,
    *,
    service: PaymentService | None = None,
) -> Flask:
    config = config or settings_module.load()
    configure_logging("payment", json=config.json_logs)
    service = service or bootstrap(config, name="payment-api", pool_size=8)
    auth = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_audience,
        jwks_path=config.auth_jwks_path,
        realm="payments",
    )
    app = create_flask_app(
        "payment", readiness_checks=service.readiness_checks, max_content_length=64 * 1024
    )
    app.register_blueprint(payments_blueprint(service, auth))
    app.extensions["payment_service"] = service
    return app

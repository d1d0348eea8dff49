"""The payment service's internal HTTP API (called by the gateway with the merchant's JWT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import ValidationError
from psycopg_pool import ConnectionPool

from paykit.db import create_pool
from paykit.logging import configure_logging
from paykit.problems import Problem
from paykit.web import create_flask_app, current_correlation_id, json_body, problem_response
from paykit.web_auth import BearerAuth, load_bearer_auth
from payment_service import settings as settings_module
from payment_service.adapters.repository import PostgresUnitOfWork
from payment_service.domain.errors import (
    DomainError,
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsCaptured,
)
from payment_service.domain.idempotency import StoredResponse, fingerprint, valid_key
from payment_service.entrypoints.schemas import (
    CreatePaymentSchema,
    CreateRefundSchema,
    ListPaymentsSchema,
)
from payment_service.entrypoints.views import (
    decode_cursor,
    encode_cursor,
    payment_view,
    refund_view,
)
from payment_service.service_layer import handlers
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    run_once,
)
from payment_service.service_layer.unit_of_work import PaymentQuery
from payment_service.settings import PaymentSettings

REPLAY_HEADER = "Idempotent-Replayed"
READ_SCOPE = "payments:read"
WRITE_SCOPE = "payments:write"
DOMAIN_STATUS: dict[type[DomainError], int] = {
    PaymentNotFound: 404,
    PaymentNotRefundable: 409,
    RefundExceedsCaptured: 422,
    IdempotencyKeyReused: 422,
    IdempotencyRequestInFlight: 409,
}


def _invalid(error: ValidationError) -> Problem:
    return Problem(
        422,
        "validation_failed",
        detail="The request body is not valid.",
        extra={"errors": error.messages},
    )


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise Problem(
            400,
            "idempotency_key_missing",
            detail="POST requests that create something need an Idempotency-Key.",
        )
    if not valid_key(key):
        raise Problem(
            400,
            "idempotency_key_invalid",
            detail="Idempotency-Key must be 1 to 255 printable ASCII characters.",
        )
    return key


def _respond(result_body: dict[str, Any], status: int, replayed: bool) -> Response:
    response = jsonify(result_body)
    response.status_code = status
    response.headers[REPLAY_HEADER] = "true" if replayed else "false"
    return response


def payments_blueprint(
    config: PaymentSettings, pool: ConnectionPool, auth: BearerAuth
) -> Blueprint:
    api = Blueprint("payments", __name__)
    create_schema = CreatePaymentSchema(
        currencies=config.currencies,
        max_amount=config.max_amount,
        max_metadata_keys=config.max_metadata_keys,
    )

    def unit_of_work(conn: Any) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(conn, lock_timeout_ms=config.idempotency_lock_timeout_ms)

    def create_once(
        merchant: str,
        key: str,
        data: dict[str, Any],
        create: Callable[[PostgresUnitOfWork], dict[str, Any]],
    ) -> Response:
        """Run ``create`` at most once per (merchant, key); replay its stored 201 otherwise."""
        with pool.connection() as conn, conn.transaction():
            uow = unit_of_work(conn)
            result = run_once(
                uow,
                merchant_id=merchant,
                key=key,
                fingerprint=fingerprint(request.method, request.path, data),
                action=lambda: StoredResponse(201, create(uow)),
            )
        return _respond(result.response.body, result.response.status, result.replayed)

    @api.post("/payments")
    def create_payment() -> Response:
        merchant = auth.authorise_request(WRITE_SCOPE).subject
        key = _idempotency_key()
        try:
            data = create_schema.load(json_body())
        except ValidationError as error:
            raise _invalid(error) from error
        command = CreatePayment(
            merchant_id=merchant, correlation_id=current_correlation_id(), **data
        )
        return create_once(
            merchant, key, data, lambda uow: payment_view(handlers.create_payment(command, uow))
        )

    @api.get("/payments/<payment_id>")
    def get_payment(payment_id: str) -> Response:
        merchant = auth.authorise_request(READ_SCOPE).subject
        with pool.connection() as conn:
            payment = unit_of_work(conn).payments.get(payment_id)
        if payment is None or payment.merchant_id != merchant:
            raise Problem(404, "payment_not_found", detail=f"No payment {payment_id}.")
        return jsonify(payment_view(payment))

    @api.get("/payments/<payment_id>/refunds")
    def list_refunds(payment_id: str) -> Response:
        merchant = auth.authorise_request(READ_SCOPE).subject
        with pool.connection() as conn:
            uow = unit_of_work(conn)
            payment = uow.payments.get(payment_id)
            if payment is None or payment.merchant_id != merchant:
                raise Problem(404, "payment_not_found", detail=f"No payment {payment_id}.")
            refunds = uow.refunds.for_payment(payment_id)
        return jsonify({"data": [refund_view(r) for r in refunds]})

    @api.get("/payments")
    def list_payments() -> Response:
        merchant = auth.authorise_request(READ_SCOPE).subject
        try:
            args = ListPaymentsSchema().load(request.args.to_dict())
            after = decode_cursor(args["cursor"]) if args["cursor"] else None
        except ValidationError as error:
            raise Problem(400, "invalid_query", extra={"errors": error.messages}) from error
        except ValueError as error:
            raise Problem(400, "invalid_cursor", detail=str(error)) from error
        query = PaymentQuery(
            merchant,
            args["status"],
            args["created_gte"],
            args["created_lt"],
            after,
            args["limit"] + 1,
        )
        with pool.connection() as conn:
            found = unit_of_work(conn).payments.search(query)
        page, more = found[: args["limit"]], len(found) > args["limit"]
        return jsonify(
            {
                "data": [payment_view(p) for p in page],
                "next_cursor": encode_cursor(page[-1]) if more else None,
            }
        )

    @api.post("/payments/<payment_id>/refunds")
    def create_refund(payment_id: str) -> Response:
        merchant = auth.authorise_request(WRITE_SCOPE).subject
        key = _idempotency_key()
        try:
            data = CreateRefundSchema().load(json_body())
        except ValidationError as error:
            raise _invalid(error) from error
        command = RequestRefund(
            merchant_id=merchant,
            payment_id=payment_id,
            correlation_id=current_correlation_id(),
            **data,
        )
        return create_once(
            merchant, key, data, lambda uow: refund_view(handlers.request_refund(command, uow))
        )

    @api.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        status = DOMAIN_STATUS.get(type(error), 422)
        return problem_response(Problem(status, error.code, detail=str(error)))

    return api


def create_app(config: PaymentSettings | None = None) -> Flask:
    config = config or settings_module.load()
    configure_logging("payment", json=config.json_logs)
    pool = create_pool(config.database_url.reveal(), max_size=8, name="payment-api")
    auth = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_audience,
        jwks_path=config.auth_jwks_path,
        realm="payments",
    )

    def database_answers() -> None:
        with pool.connection() as conn:
            conn.execute("SELECT 1")

    app = create_flask_app(
        "payment", readiness_checks={"database": database_answers}, max_content_length=64 * 1024
    )
    app.register_blueprint(payments_blueprint(config, pool, auth))
    app.extensions["payment_pool"] = pool
    return app

"""The settlement service's HTTP API.

Merchants (the payment API's audience, ``payments:read``) read their own batches; another
merchant's batch answers 404. Operators (the admin audience, ``settlement:admin``) run a cutoff
and retry a failed batch. Views stay thin: authorise, parse, call the use case, render.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema
from psycopg import errors as pg_errors

from paykit.logging import configure_logging
from paykit.problems import Problem
from paykit.web import create_flask_app, json_body, load_or_problem, problem_response
from paykit.web_auth import BearerAuth, load_bearer_auth
from settlement_service import settings as settings_module
from settlement_service.adapters.batch_reads import BatchReads
from settlement_service.adapters.batches_repository import BatchesRepository
from settlement_service.adapters.payouts_repository import PayoutsRepository
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.domain.errors import (
    BatchNotFound,
    CutoffInFuture,
    IllegalTransition,
    SettlementError,
)
from settlement_service.entrypoints.reports_api import (
    json_ready,
    reconciliation_blueprint,
    reports_blueprint,
)
from settlement_service.entrypoints.schemas import (
    BatchesPageSchema,
    RetrySchema,
    RunSchema,
    decode_cursor,
    encode_cursor,
)
from settlement_service.reconciliation_bootstrap import (
    ReconciliationSources,
    http_sources,
    load_reconciliation_settings,
)
from settlement_service.service_layer.batching import close_batches
from settlement_service.service_layer.payouts import pay_out, send, start_attempt

log = structlog.get_logger(__name__)

DOMAIN_STATUS: dict[type[SettlementError], int] = {
    BatchNotFound: 404,
    IllegalTransition: 409,
    CutoffInFuture: 422,
}


def _load(schema: Schema, values: dict[str, Any], *, status: int = 400) -> dict[str, Any]:
    return load_or_problem(schema, values, status=status)


def _batch(service: SettlementService, batch_id: str, merchant_id: str | None) -> dict[str, Any]:
    with service.connections().connection() as conn:
        found = BatchesRepository(conn).get(batch_id)
        if found is None or (merchant_id is not None and found["merchant_id"] != merchant_id):
            raise BatchNotFound(f"no batch {batch_id}")
        found["items"] = BatchReads(conn).items(batch_id)
        found["payouts"] = PayoutsRepository(conn).of_batch(batch_id)
    return found


def _pay_out_now(service: SettlementService, batch_ids: list[str]) -> None:
    """Right after the commit; what the bank does not answer now, the janitor finishes."""
    if service.bank is None:
        return
    for batch_id in batch_ids:
        try:
            pay_out(
                service.connections(),
                service.bank,
                batch_id,
                service.settings.bank_accounts,
                service.clock,
                service.payout_stuck_after,
            )
        except Exception:
            log.exception("payout_request_failed", batch_id=batch_id)


def merchant_blueprint(service: SettlementService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("settlement_merchant", __name__, url_prefix="/settlements")
    scope = service.settings.read_scope

    @api.get("/batches")
    def batches() -> Response:
        merchant = auth.authorise_request(scope).subject
        args = _load(BatchesPageSchema(), request.args.to_dict())
        try:
            before = decode_cursor(args["cursor"]) if args["cursor"] else None
        except ValueError as error:
            raise Problem(400, "invalid_cursor", detail=str(error)) from None
        with service.connections().connection() as conn:
            rows = BatchReads(conn).page(
                merchant,
                status=args["status"],
                currency=args["currency"],
                created_from=args["from_"],
                created_to=args["to"],
                before=before,
                limit=args["limit"] + 1,
            )
        page, more = rows[: args["limit"]], len(rows) > args["limit"]
        last = page[-1] if page else None
        return jsonify(
            {
                "data": json_ready(page),
                "next_cursor": encode_cursor(last["created_at"], last["id"])
                if more and last
                else None,
            }
        )

    @api.get("/batches/<batch_id>")
    def batch(batch_id: str) -> Response:
        merchant = auth.authorise_request(scope).subject
        return jsonify(json_ready(_batch(service, batch_id, merchant)))

    return api


def admin_blueprint(service: SettlementService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("settlement_admin", __name__, url_prefix="/settlements")
    scope = service.settings.admin_scope

    @api.post("/run")
    def run() -> Response:
        auth.authorise_request(scope)
        body = _load(RunSchema(), json_body(), status=422)
        with service.connections().connection() as conn:
            result = close_batches(
                conn,
                body["cutoff"],
                now=service.clock(),
                holding_period=service.holding_period,
                minimums=service.settings.minimum_payouts,
                triggered_by="admin",
            )
        if not result.replayed:
            _pay_out_now(service, [b["id"] for b in result.closed])
        return jsonify(
            json_ready(
                {
                    "cutoff": result.cutoff,
                    "eligible_before": result.eligible_before,
                    "replayed": result.replayed,
                    "closed": result.closed,
                    "carried_forward": result.carried_forward,
                }
            )
        )

    @api.post("/batches/<batch_id>/retry")
    def retry(batch_id: str) -> Response:
        auth.authorise_request(scope)
        body = _load(RetrySchema(), json_body() if request.content_length else {}, status=422)
        request_ = start_attempt(
            service.connections(),
            batch_id,
            service.settings.bank_accounts,
            retry=True,
            bank_account=body["bank_account"],
        )
        if request_ is not None and service.bank is not None:
            send(
                service.connections(),
                service.bank,
                request_,
                service.clock,
                service.payout_stuck_after,
            )
        response = jsonify(json_ready(_batch(service, batch_id, None)))
        response.status_code = 202
        return response

    @api.get("/admin/batches/<batch_id>")
    def any_batch(batch_id: str) -> Response:
        auth.authorise_request(scope)
        return jsonify(json_ready(_batch(service, batch_id, None)))

    return api


def create_app(
    config: settings_module.SettlementSettings | None = None,
    *,
    service: SettlementService | None = None,
    reconciliation_sources: ReconciliationSources | None = None,
) -> Flask:
    """``reconciliation_sources``: where reconciliation reads the ledger, PSP and bank; by
    default over HTTP from the environment (LEDGER_URL, PSP_URL)."""
    config = config or settings_module.load()
    configure_logging("settlement", json=config.json_logs)
    service = service or bootstrap(config, name="settlement-api", with_bank=True)
    merchants = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_audience,
        jwks_path=config.auth_jwks_path,
        realm="settlement",
    )
    operators = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_admin_audience,
        jwks_path=config.auth_jwks_path,
        realm="settlement-admin",
    )
    app = create_flask_app(
        "settlement", readiness_checks=service.readiness_checks, max_content_length=16 * 1024
    )
    app.register_blueprint(merchant_blueprint(service, merchants))
    app.register_blueprint(admin_blueprint(service, operators), name="settlement_admin")
    app.register_blueprint(reports_blueprint(service, merchants))
    sources = reconciliation_sources
    if sources is None:
        sources = http_sources(config, load_reconciliation_settings())
        if sources is not None:
            service.closers.append(sources.close)
    app.register_blueprint(reconciliation_blueprint(service, operators, sources))

    @app.errorhandler(SettlementError)
    def domain_error(error: SettlementError) -> Response:
        status = DOMAIN_STATUS.get(type(error), 422)
        return problem_response(Problem(status, error.code, detail=str(error)))

    @app.errorhandler(pg_errors.CheckViolation)
    def refused_by_database(error: pg_errors.CheckViolation) -> Response:
        if error.diag.constraint_name != "settlement_batch_transitions":
            raise error
        detail = error.diag.message_primary or str(error)
        return problem_response(Problem(409, IllegalTransition.code, detail=detail))

    app.extensions["settlement_service"] = service
    return app

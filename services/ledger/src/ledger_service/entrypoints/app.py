"""The ledger's internal HTTP API.

Merchants (the payment API's audience, ``payments:read``) read their own balances, entries and
transactions; another merchant's transaction answers 404. Operators (the admin audience,
``ledger:admin``) read any account, the platform's accounts, the trial balance, and post
adjustments. Views stay thin: authorise, parse, call the use case, render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema
from psycopg import errors as pg_errors

from ledger_service import settings as settings_module
from ledger_service.adapters.ledger_reads import LedgerReads
from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.bootstrap import LedgerService, bootstrap
from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.errors import (
    AdjustmentConflict,
    InvalidPosting,
    LedgerError,
    TransactionNotFound,
    UnknownAccount,
)
from ledger_service.domain.postings import Entry, entry_views
from ledger_service.entrypoints.schemas import (
    AdjustmentSchema,
    AsOfSchema,
    EntriesPageSchema,
    PlatformBalancesSchema,
    TransactionsInPeriodSchema,
    decode_cursor,
    encode_cursor,
)
from ledger_service.service_layer import reads
from ledger_service.service_layer.adjustments import Adjust, adjust
from paykit.canonical import valid_idempotency_key
from paykit.logging import configure_logging
from paykit.problems import Problem
from paykit.web import create_flask_app, json_body, load_or_problem, problem_response
from paykit.web_auth import BearerAuth, load_bearer_auth

DOMAIN_STATUS: dict[type[LedgerError], int] = {
    TransactionNotFound: 404,
    UnknownAccount: 422,
    InvalidPosting: 422,
    AdjustmentConflict: 409,
}


def _load(schema: Schema, values: dict[str, Any], *, status: int = 400) -> dict[str, Any]:
    return load_or_problem(schema, values, status=status)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _entries_page(service: LedgerService, code: str) -> Response:
    args = _load(EntriesPageSchema(), request.args.to_dict())
    try:
        before = decode_cursor(args["cursor"]) if args["cursor"] else None
    except ValueError as error:
        raise Problem(400, "invalid_cursor", detail=str(error)) from None
    with service.connections().connection() as conn:
        found = LedgerReads(conn)
        account_id = found.account_id(code, args["currency"])
        rows = (
            []
            if account_id is None
            else found.entries(account_id, before=before, limit=args["limit"] + 1)
        )
    page, more = rows[: args["limit"]], len(rows) > args["limit"]
    for row in page:
        row.pop("currency")
    return jsonify(
        {
            "account": code,
            "currency": args["currency"],
            "data": _jsonable([{**row, "id": encode_cursor(row["id"])} for row in page]),
            "next_cursor": encode_cursor(page[-1]["id"]) if more else None,
        }
    )


def merchant_blueprint(service: LedgerService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("ledger_merchant", __name__)
    scope = service.settings.read_scope

    @api.get("/balances")
    def balances() -> Response:
        merchant = auth.authorise_request(scope).subject
        as_of = _load(AsOfSchema(), request.args.to_dict())["as_of"]
        with service.connections().connection() as conn:
            found = reads.merchant_balances(LedgerReads(conn), merchant, as_of)
        return jsonify({"merchant_id": merchant, "as_of": _jsonable(as_of), "data": found})

    @api.get("/accounts/<kind>/entries")
    def entries(kind: str) -> Response:
        merchant = auth.authorise_request(scope).subject
        return _entries_page(service, accounts.merchant_account(merchant, kind))

    @api.get("/transactions/<transaction_id>")
    def transaction(transaction_id: str) -> Response:
        merchant = auth.authorise_request(scope).subject
        with service.connections().connection() as conn:
            found = reads.transaction(LedgerReads(conn), transaction_id, merchant_id=merchant)
        return jsonify(_jsonable(found))

    return api


def admin_blueprint(service: LedgerService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("ledger_admin", __name__, url_prefix="/admin")
    scope = service.settings.admin_scope

    @api.get("/balances")
    def balances() -> Response:
        auth.authorise_request(scope)
        args = _load(PlatformBalancesSchema(), request.args.to_dict())
        with service.connections().connection() as conn:
            if args["merchant_id"]:
                found = reads.merchant_balances(
                    LedgerReads(conn), args["merchant_id"], args["as_of"]
                )
            else:
                found = reads.platform_balances(LedgerReads(conn), args["as_of"])
        return jsonify({"as_of": _jsonable(args["as_of"]), "data": found})

    @api.get("/accounts/<code>/entries")
    def entries(code: str) -> Response:
        auth.authorise_request(scope)
        accounts.spec_for(code)
        return _entries_page(service, code)

    @api.get("/transactions/<transaction_id>")
    def transaction(transaction_id: str) -> Response:
        auth.authorise_request(scope)
        with service.connections().connection() as conn:
            found = reads.transaction(LedgerReads(conn), transaction_id, merchant_id=None)
        return jsonify(_jsonable(found))

    @api.get("/transactions")
    def transactions_in_period() -> Response:
        """For reconciliation: every sealed transaction effective in a period, in seal order."""
        auth.authorise_request(scope)
        values: dict[str, Any] = request.args.to_dict()
        if "kind" in request.args:
            values["kind"] = request.args.getlist("kind")
        args = _load(TransactionsInPeriodSchema(), values)
        if args["end"] <= args["start"]:
            raise Problem(400, "invalid_period", detail="'to' must be after 'from'")
        try:
            after = decode_cursor(args["cursor"]) if args["cursor"] else 0
        except ValueError as error:
            raise Problem(400, "invalid_cursor", detail=str(error)) from None
        with service.connections().connection() as conn:
            page = LedgerReads(conn).transactions_in_period(
                args["start"],
                args["end"],
                kinds=args["kind"],
                merchant_id=args["merchant_id"],
                after=after,
                limit=args["limit"] + 1,
            )
        more = len(page) > args["limit"]
        page = page[: args["limit"]]
        return jsonify(
            {
                "data": _jsonable([{k: v for k, v in row.items() if k != "seq"} for row in page]),
                "next_cursor": encode_cursor(page[-1]["seq"]) if more else None,
            }
        )

    @api.get("/trial-balance")
    def trial_balance() -> Response:
        auth.authorise_request(scope)
        with service.connections().connection() as conn:
            found = reads.trial_balance(LedgerReads(conn))
        return jsonify({"data": found, "balanced": all(c["balanced"] for c in found)})

    @api.post("/adjustments")
    def create_adjustment() -> Response:
        actor = auth.authorise_request(scope).subject
        key = request.headers.get("Idempotency-Key")
        if key is None or not valid_idempotency_key(key):
            raise Problem(
                400,
                "idempotency_key_missing",
                detail="An adjustment needs an Idempotency-Key of 1 to 255 printable characters.",
            )
        body = _load(AdjustmentSchema(), json_body(), status=422)
        command = Adjust(
            reference=key,
            currency=body["currency"],
            entries=tuple(
                Entry(e["account"], Side(e["direction"]), e["amount"]) for e in body["entries"]
            ),
            reason=body["reason"],
            actor=actor,
            effective_at=body["effective_at"] or datetime.now(UTC),
            effective_at_given=body["effective_at"] is not None,
        )
        try:
            with service.connections().connection() as conn, conn.transaction():
                repository = LedgerRepository(conn)
                recorded = adjust(repository, command)
                recorded_at = repository.recorded_at(recorded.transaction_id)
        except pg_errors.CheckViolation as error:
            raise Problem(
                422, "balance_constraint", detail=error.diag.message_primary or str(error)
            ) from None
        except pg_errors.UniqueViolation:
            raise Problem(
                409, "adjustment_in_flight", detail="The same key is being posted."
            ) from None
        response = jsonify(
            {
                "transaction_id": recorded.transaction_id,
                "kind": recorded.posting.kind,
                "currency": recorded.posting.currency,
                "entries": entry_views(recorded.posting.entries),
                "reason": command.reason,
                "actor": command.actor,
                "recorded_at": _jsonable(recorded_at),
            }
        )
        response.status_code = 201
        return response

    return api


def create_app(
    config: settings_module.LedgerSettings | None = None,
    *,
    service: LedgerService | None = None,
) -> Flask:
    config = config or settings_module.load()
    configure_logging("ledger", json=config.json_logs)
    service = service or bootstrap(config, name="ledger-api")
    merchants = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_audience,
        jwks_path=config.auth_jwks_path,
        realm="ledger",
    )
    operators = load_bearer_auth(
        issuer=config.auth_issuer,
        audience=config.auth_admin_audience,
        jwks_path=config.auth_jwks_path,
        realm="ledger-admin",
    )
    app = create_flask_app(
        "ledger", readiness_checks=service.readiness_checks, max_content_length=64 * 1024
    )
    app.register_blueprint(merchant_blueprint(service, merchants))
    app.register_blueprint(admin_blueprint(service, operators))

    @app.errorhandler(LedgerError)
    def domain_error(error: LedgerError) -> Response:
        status = DOMAIN_STATUS.get(type(error), 422)
        return problem_response(Problem(status, error.code, detail=str(error)))

    app.extensions["ledger_service"] = service
    return app

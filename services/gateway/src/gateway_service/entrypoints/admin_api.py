"""``/v1/admin``: operators manage merchants, their API keys and the gateway's signing keys.

Every route needs an operator's token (the admin audience) with ``gateway:admin``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from gateway_service.adapters.merchants_repository import MerchantsRepository
from gateway_service.bootstrap import GatewayService
from gateway_service.entrypoints.core_views import (
    instant,
    issued_secret_view,
    key_view,
    merchant_view,
    signing_key_view,
)
from gateway_service.service_layer import merchants as merchant_use_cases
from paykit.problems import Problem
from paykit.web import json_body, load_or_problem


class CreateMerchantSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MerchantsPageSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


def _cursor(merchant_id: str) -> str:
    return base64.urlsafe_b64encode(merchant_id.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise Problem(400, "invalid_cursor", detail="The cursor is not one we gave.") from None


def _created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"  # it may carry a secret
    return response


def admin_blueprint(service: GatewayService) -> Blueprint:
    api = Blueprint("gateway_admin", __name__, url_prefix="/v1/admin")
    auth, scope = service.admin_auth, service.settings.admin_scope

    @api.before_request
    def operators_only() -> None:
        auth.authorise_request(scope)

    @api.post("/merchants")
    def create_merchant() -> Response:
        body = load_or_problem(CreateMerchantSchema(), json_body(), status=422)
        with service.pool.connection() as conn, conn.transaction():
            issued = merchant_use_cases.create_merchant(MerchantsRepository(conn), body["name"])
        return _created(issued_secret_view(issued, name=body["name"]))

    @api.get("/merchants")
    def list_merchants() -> Response:
        args = load_or_problem(MerchantsPageSchema(), request.args.to_dict(), status=400)
        with service.pool.connection() as conn:
            rows = MerchantsRepository(conn).merchants(
                after=_after(args["cursor"]), limit=args["limit"] + 1
            )
        page, more = rows[: args["limit"]], len(rows) > args["limit"]
        return jsonify(
            {
                "data": [merchant_view(row) for row in page],
                "next_cursor": _cursor(page[-1]["id"]) if more else None,
            }
        )

    @api.post("/merchants/<merchant_id>/keys")
    def create_key(merchant_id: str) -> Response:
        with service.pool.connection() as conn, conn.transaction():
            issued = merchant_use_cases.create_key(MerchantsRepository(conn), merchant_id)
        return _created(issued_secret_view(issued))

    @api.get("/merchants/<merchant_id>/keys")
    def list_keys(merchant_id: str) -> Response:
        with service.pool.connection() as conn:
            rows = merchant_use_cases.list_keys(MerchantsRepository(conn), merchant_id)
        return jsonify({"data": [key_view(row, merchant_id) for row in rows]})

    @api.post("/merchants/<merchant_id>/keys/<key_id>/revoke")
    def revoke_key(merchant_id: str, key_id: str) -> Response:
        with service.pool.connection() as conn, conn.transaction():
            row = merchant_use_cases.revoke_key(MerchantsRepository(conn), merchant_id, key_id)
        return jsonify(key_view(row, merchant_id))

    @api.get("/signing-keys")
    def list_signing_keys() -> Response:
        now = datetime.now(UTC)
        found = service.signing_keys.all()
        return jsonify({"data": [signing_key_view(key, now) for key in found]})

    @api.post("/signing-keys/rotate")
    def rotate_signing_key() -> Response:
        rotation = service.signing_keys.rotate()
        return _created(
            {
                "kid": rotation.kid,
                "signs_from": instant(rotation.signs_from),
                "retired_kid": rotation.retired_kid,
            }
        )

    return api

"""``POST /v1/auth/token`` (OAuth 2 client credentials) and ``GET /.well-known/jwks.json``.

The token endpoint takes the credentials as JSON (``client_id``, ``client_secret``) or as the
RFC 6749 form (``grant_type=client_credentials`` with the credentials in the form or in HTTP
Basic). Every failed client authentication is the same 401 ``invalid_client``; problem bodies
also carry OAuth's ``error`` member so OAuth client libraries understand them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request

from gateway_service.adapters.merchants_repository import MerchantsRepository
from gateway_service.bootstrap import GatewayService
from gateway_service.domain.errors import InvalidClient
from gateway_service.service_layer.tokens import issue_token
from paykit.problems import Problem
from paykit.web import json_body

CLIENT_CREDENTIALS: Final = "client_credentials"
FORM: Final = "application/x-www-form-urlencoded"
MAX_CREDENTIAL_LENGTH: Final = 200


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    by_basic: bool


def _oauth_problem(status: int, code: str, detail: str, **headers: str) -> Problem:
    return Problem(status, code, detail=detail, extra={"error": code}, headers=headers)


def _basic(authorization: str) -> tuple[str, str] | None:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _oauth_problem(400, "invalid_request", "Malformed HTTP Basic credentials.") from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise _oauth_problem(400, "invalid_request", "Malformed HTTP Basic credentials.")
    # RFC 6749 2.3.1: both parts are form-encoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CREDENTIAL_LENGTH:
        raise _oauth_problem(400, "invalid_request", f"{name} must be a short string.")
    return value


def client_credentials() -> ClientCredentials:
    """The credentials of a token request in any of the accepted shapes, or a 4xx problem."""
    if request.mimetype == FORM:
        values: dict[str, Any] = request.form.to_dict()
        grant = _text(values, "grant_type")
        if grant is None:
            raise _oauth_problem(400, "invalid_request", "grant_type is required.")
    elif request.is_json:
        values = json_body()
        grant = _text(values, "grant_type")
    else:
        raise Problem(415, "unsupported_media_type", detail=f"Send JSON or {FORM} (OAuth 2 form).")
    if grant is not None and grant != CLIENT_CREDENTIALS:
        raise _oauth_problem(
            400, "unsupported_grant_type", f"Only the {CLIENT_CREDENTIALS} grant is supported."
        )
    in_body = (_text(values, "client_id"), _text(values, "client_secret"))
    basic = _basic(request.headers.get("Authorization", ""))
    if basic is not None and any(in_body):
        raise _oauth_problem(
            400, "invalid_request", "Give the credentials in the body or in Basic, not both."
        )
    client_id, secret = basic or in_body
    if not client_id or not secret:
        raise _oauth_problem(400, "invalid_request", "client_id and client_secret are required.")
    return ClientCredentials(client_id, secret, by_basic=basic is not None)


def auth_blueprint(service: GatewayService) -> Blueprint:
    api = Blueprint("gateway_auth", __name__)

    @api.post("/v1/auth/token")
    def token() -> Response:
        credentials = client_credentials()
        try:
            with service.pool.connection() as conn, conn.transaction():
                issued = issue_token(
                    MerchantsRepository(conn),
                    service.signing_keys.current(),
                    service.token_policy,
                    credentials.client_id,
                    credentials.client_secret,
                )
        except InvalidClient:
            challenge = {"WWW-Authenticate": 'Basic realm="payments"'}
            raise _oauth_problem(
                401,
                "invalid_client",
                "Unknown client, wrong secret or revoked key.",
                **(challenge if credentials.by_basic else {}),
            ) from None
        response = jsonify(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope,
            }
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    @api.get("/.well-known/jwks.json")
    def jwks() -> Response:
        response = jsonify(service.signing_keys.jwks())
        max_age = service.settings.jwks_max_age_seconds
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        return response

    return api

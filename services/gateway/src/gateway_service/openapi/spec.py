"""The OpenAPI 3.1 document of the public API, built by apispec from the operation table.

Built once per process (it is a pure function of the code), served at ``/v1/openapi.json``.
Every operation documents its problem+json errors, the bearer token, the rate-limit headers,
and, for creates, the Idempotency-Key header.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway_service.openapi import schemas
from gateway_service.openapi.operations import IDENTIFIER, OPERATIONS, Operation

OPENAPI_VERSION: Final = "3.1.0"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
_RATE_HEADERS: Final = {
    "RateLimit-Limit": "Requests this merchant may make at once (the burst).",
    "RateLimit-Remaining": "Requests left before the limit refuses.",
    "RateLimit-Reset": "Seconds until the whole burst is available again.",
}
# Which errors each kind of operation can meet, and why; `default` covers the rest.
_ERRORS: Final = {
    "400": "The query or a header is malformed.",
    "401": "No valid bearer token.",
    "403": "The token lacks the scope.",
    "404": "No such object for this merchant (another merchant's is not found either).",
    "429": "Over the merchant's rate limit; wait `Retry-After` seconds.",
    "502": "A service behind the gateway did not answer properly.",
    "503": "The gateway cannot serve the request now.",
    "504": "A service behind the gateway took too long.",
}
_WRITE_ERRORS: Final = {
    "409": "The same Idempotency-Key is still being processed, or the state forbids it.",
    "413": "The body is over the size limit.",
    "415": "The body is not application/json.",
    "422": "The body is not valid (unknown fields included).",
}


def build_spec(*, title: str = "Payments API", version: str = "1") -> dict[str, Any]:
    spec = APISpec(
        title=title,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Take payments, refund them, and follow the money to your bank."
            " Errors are RFC 9457 problem+json with a stable `code`.",
        },
        servers=[{"url": "/"}],
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    )
    spec.components.security_scheme("clientBasic", {"type": "http", "scheme": "basic"})
    spec.components.schema("Problem", schema=schemas.ProblemDetails)
    spec.components.parameter(
        "IdempotencyKey",
        "header",
        {
            "name": "Idempotency-Key",
            "required": True,
            "description": "Repeating a create with the same key and body answers the first"
            " result instead of creating twice.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    )
    for name, description in _RATE_HEADERS.items():
        spec.components.header(name, {"description": description, "schema": {"type": "integer"}})
    spec.components.header(
        "Retry-After",
        {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    )
    spec.components.header(
        "X-Request-Id",
        {"description": "This request's id, for support and logs.", "schema": {"type": "string"}},
    )
    spec.path(path="/v1/auth/token", operations={"post": _token_operation()})
    spec.path(path="/.well-known/jwks.json", operations={"get": _jwks_operation()})
    for operation in OPERATIONS:
        spec.path(path=operation.path, operations={operation.method.lower(): _operation(operation)})
    return spec.to_dict()


def _token_operation() -> dict[str, Any]:
    """Served by the gateway itself, before any token exists: no bearer, no rate headers."""
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "operationId": "createAccessToken",
        "summary": "Exchange client credentials for an access token",
        "description": "The credentials in the JSON body, in the form, or in HTTP Basic"
        " (form-encoded parts); both body and Basic at once is a 400. Errors carry OAuth's"
        " `error` member beside `code`.",
        "tags": ["Authentication"],
        "security": [{}, {"clientBasic": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schemas.TokenRequest},
                "application/x-www-form-urlencoded": {"schema": schemas.TokenRequest},
            },
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": schemas.TokenResponse}},
            },
            "400": {
                "description": "Malformed or missing credentials, or another grant.",
                "content": problem,
            },
            "401": {
                "description": "Unknown client, wrong secret or revoked key.",
                "content": problem,
            },
            "415": {"description": "Neither JSON nor the form.", "content": problem},
            "default": {"description": "Any other error.", "content": problem},
        },
    }


def _jwks_operation() -> dict[str, Any]:
    return {
        "operationId": "getJsonWebKeySet",
        "summary": "The public keys that verify access tokens",
        "tags": ["Authentication"],
        "security": [{}],
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": schemas.JsonWebKeySet}},
            }
        },
    }


def _operation(operation: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": _parameters(operation),
        "responses": {str(operation.status): _success(operation), **_errors(operation)},
    }
    if operation.request_body is not None:
        body["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.request_body}},
        }
    return body


def _parameters(operation: Operation) -> list[Any]:
    found: list[Any] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": IDENTIFIER},
        }
        for name in operation.path_parameters
    ]
    found += [
        {
            "name": parameter.name,
            "in": "query",
            "required": parameter.required,
            "schema": parameter.schema,
            **({"description": parameter.description} if parameter.description else {}),
        }
        for parameter in operation.query
    ]
    if operation.needs_idempotency_key:
        found.append("IdempotencyKey")  # apispec resolves a component by name
    return found


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _success(operation: Operation) -> dict[str, Any]:
    """The answer when all went well; a 204 has no body, so it documents no content at all."""
    answer: dict[str, Any] = {
        "description": HTTPStatus(operation.status).phrase,
        "headers": _headers("X-Request-Id", *_RATE_HEADERS),
    }
    if operation.status != HTTPStatus.NO_CONTENT:
        schema = operation.response if operation.response is not None else {"type": "string"}
        answer["content"] = {operation.media_type: {"schema": schema}}
    return answer


def _errors(operation: Operation) -> dict[str, Any]:
    errors = {**_ERRORS, **(_WRITE_ERRORS if operation.method == "POST" else {})}
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {
        status: {
            "description": description,
            "headers": _headers("X-Request-Id", *(("Retry-After",) if status == "429" else ())),
            "content": problem,
        }
        for status, description in sorted(errors.items())
    }
    responses["default"] = {"description": "Any other error.", "content": problem}
    return responses

"""Merchants' webhook endpoints over HTTP (the gateway's ``/v1/webhook_endpoints`` upstream).

Authenticated by the merchant's own token (the payment API's audience and scopes: reading
needs ``payments:read``, changing ``payments:write``); the token's subject is the merchant,
and an endpoint of another merchant answers 404 like one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final, TypeVar

from flask import Blueprint, Response, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from payevents import fieldtypes as f
from payevents.fieldtypes import IDENTIFIER_PATTERN
from paykit.canonical import digest, valid_idempotency_key
from paykit.problems import Problem
from paykit.web import json_body, load_or_problem, problem_response
from webhook_service.domain.endpoints import MessageState
from webhook_service.domain.outbound_targets import TargetRefused
from webhook_service.domain.public_events import PUBLIC_EVENT_TYPES
from webhook_service.entrypoints.app_context import current_service
from webhook_service.entrypoints.endpoint_views import (
    attempt_view,
    decode_cursor,
    details_view,
    encode_cursor,
    endpoint_view,
    message_view,
)
from webhook_service.service_layer.endpoints import (
    DEFAULT_ROTATION_OVERLAP,
    MAX_ROTATION_OVERLAP,
    EndpointNotFound,
    Endpoints,
    IdempotencyKeyReused,
    Issued,
    KeyedAsk,
    UnknownEventTypes,
)

READ_SCOPE: Final = "payments:read"
WRITE_SCOPE: Final = "payments:write"
MERCHANT_ID: Final = re.compile(IDENTIFIER_PATTERN)
REPLAY_HEADER: Final = "Idempotent-Replayed"
T = TypeVar("T")

blueprint = Blueprint("webhook_endpoints", __name__, url_prefix="/webhook_endpoints")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _event_types(required: bool) -> fields.Field[Any]:
    item = f.Text(validate=validate.OneOf(sorted(PUBLIC_EVENT_TYPES)))
    size = validate.Length(min=1, max=len(PUBLIC_EVENT_TYPES))
    if required:
        return fields.List(item, required=True, validate=size)
    return fields.List(item, load_default=None, validate=size)


class _CreateEndpoint(_Strict):
    url = f.Text(required=True, validate=validate.Length(min=1, max=2048))
    event_types = _event_types(required=True)
    description = f.Text(load_default="", validate=validate.Length(max=255))
    enabled = fields.Boolean(load_default=True)


class _UpdateEndpoint(_Strict):
    url = f.Text(load_default=None, validate=validate.Length(min=1, max=2048))
    event_types = _event_types(required=False)
    description = f.Text(load_default=None, validate=validate.Length(max=255))
    enabled = fields.Boolean(load_default=None)


class _Rotate(_Strict):
    overlap_seconds = fields.Integer(
        load_default=int(DEFAULT_ROTATION_OVERLAP.total_seconds()),
        validate=validate.Range(min=0, max=int(MAX_ROTATION_OVERLAP.total_seconds())),
    )


class _Redeliver(_Strict):
    event_id = f.identifier("One event to send again.", optional=True)
    since = f.UtcDateTime(load_default=None)


class _Page(_Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = f.Text(load_default=None, validate=validate.Length(max=200))


class _MessagePage(_Page):
    state = f.Text(load_default=None, validate=validate.OneOf([s.value for s in MessageState]))


class _AttemptPage(_Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=1))
    message_id = f.identifier("Only this message's attempts.", optional=True)


def _endpoints() -> Endpoints:
    endpoints = current_service().endpoints
    if endpoints is None:
        raise Problem(503, "endpoints_unavailable", detail="No database is configured.")
    return endpoints


def _merchant(scope: str) -> str:
    auth = current_service().merchant_auth
    if auth is None:
        raise Problem(503, "endpoints_unavailable", detail="No token verifier is configured.")
    subject = auth.authorise_request(scope).subject
    if MERCHANT_ID.fullmatch(subject) is None:
        raise Problem(403, "invalid_subject", detail="The token's subject is not a merchant.")
    return subject


def _body(schema: Schema) -> dict[str, Any]:
    return load_or_problem(schema, json_body(), status=422)


def _query(schema: Schema) -> dict[str, Any]:
    return load_or_problem(schema, request.args.to_dict(), status=400)


def _keyed(body: dict[str, Any]) -> KeyedAsk | None:
    """The request's Idempotency-Key (optional here; the gateway requires it) and digest."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not valid_idempotency_key(key):
        raise Problem(
            400,
            "idempotency_key_invalid",
            detail="Idempotency-Key must be 1 to 255 printable ASCII characters.",
        )
    return KeyedAsk(key, digest(request.method, request.path, body))


def _issued(shown: dict[str, Any], issued: Issued, *, status: int) -> Response:
    """An answer with a secret: never cached; a replay says so, and has no secret once the
    secret stopped signing."""
    if issued.secret is not None:
        shown["secret"] = issued.secret
    response = jsonify(shown)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers[REPLAY_HEADER] = "true" if issued.replayed else "false"
    return response


def _page(
    found: Sequence[T], limit: int, view: Callable[[T], dict[str, Any]], cursor: Callable[[T], str]
) -> Response:
    """One page of ``limit`` items from ``limit + 1`` found; a cursor when there are more."""
    page = found[:limit]
    return jsonify(
        data=[view(item) for item in page],
        next_cursor=cursor(page[-1]) if len(found) > limit else None,
    )


@blueprint.post("")
def create_endpoint() -> Response:
    merchant = _merchant(WRITE_SCOPE)
    body = json_body()
    data = load_or_problem(_CreateEndpoint(), body, status=422)
    issued = _endpoints().register(merchant, **data, request=_keyed(body))
    return _issued({**endpoint_view(issued.endpoint)}, issued, status=201)


@blueprint.get("")
def list_endpoints() -> Response:
    merchant = _merchant(READ_SCOPE)
    query = _query(_Page())
    found = _endpoints().of_merchant(
        merchant, after=decode_cursor(query["cursor"]), limit=query["limit"] + 1
    )
    return _page(found, query["limit"], endpoint_view, lambda e: encode_cursor(e.created_at, e.id))


@blueprint.get("/<endpoint_id>")
def get_endpoint(endpoint_id: str) -> Response:
    merchant = _merchant(READ_SCOPE)
    return jsonify(details_view(_endpoints().details(merchant, endpoint_id)))


@blueprint.post("/<endpoint_id>")
@blueprint.patch("/<endpoint_id>")
def update_endpoint(endpoint_id: str) -> Response:
    merchant = _merchant(WRITE_SCOPE)
    data = _body(_UpdateEndpoint())
    return jsonify(endpoint_view(_endpoints().update(merchant, endpoint_id, **data)))


@blueprint.delete("/<endpoint_id>")
def delete_endpoint(endpoint_id: str) -> Response:
    merchant = _merchant(WRITE_SCOPE)
    _endpoints().remove(merchant, endpoint_id)
    return Response(status=204)


@blueprint.post("/<endpoint_id>/rotate_secret")
def rotate_secret(endpoint_id: str) -> Response:
    merchant = _merchant(WRITE_SCOPE)
    body = json_body()
    data = load_or_problem(_Rotate(), body, status=422)
    issued = _endpoints().rotate_secret(
        merchant,
        endpoint_id,
        overlap=timedelta(seconds=data["overlap_seconds"]),
        request=_keyed(body),
    )
    until = issued.previous_secret_expires_at
    shown = {
        "id": endpoint_id,
        "previous_secret_expires_at": None
        if until is None
        else until.isoformat().replace("+00:00", "Z"),
    }
    return _issued(shown, issued, status=200)


@blueprint.post("/<endpoint_id>/redeliveries")
def redeliver(endpoint_id: str) -> Response:
    merchant = _merchant(WRITE_SCOPE)
    data = _body(_Redeliver())
    if (data["event_id"] is None) == (data["since"] is None):
        raise Problem(
            422,
            "validation_failed",
            detail="Name one event (event_id) or a time (since), not both.",
            extra={"errors": {"_schema": ["Give exactly one of event_id and since."]}},
        )
    count = _endpoints().redeliver(merchant, endpoint_id, **data)
    response = jsonify(id=endpoint_id, redelivered=count)
    response.status_code = 202
    return response


@blueprint.get("/<endpoint_id>/messages")
def list_messages(endpoint_id: str) -> Response:
    merchant = _merchant(READ_SCOPE)
    query = _query(_MessagePage())
    found = _endpoints().messages(
        merchant,
        endpoint_id,
        state=query["state"],
        after=decode_cursor(query["cursor"]),
        limit=query["limit"] + 1,
    )
    return _page(found, query["limit"], message_view, lambda m: encode_cursor(m.created_at, m.id))


@blueprint.get("/<endpoint_id>/attempts")
def list_attempts(endpoint_id: str) -> Response:
    """The delivery log: every call, newest first, with status, latency and the answer's start."""
    merchant = _merchant(READ_SCOPE)
    query = _query(_AttemptPage())
    found = _endpoints().attempts(
        merchant,
        endpoint_id,
        message_id=query["message_id"],
        before_seq=query["cursor"],
        limit=query["limit"] + 1,
    )
    return _page(found, query["limit"], attempt_view, lambda a: str(a.seq))


@blueprint.errorhandler(EndpointNotFound)
def _not_found(error: EndpointNotFound) -> Response:
    return problem_response(
        Problem(
            404, "webhook_endpoint_not_found", detail=f"No endpoint {error.endpoint_id[:64]!r}."
        )
    )


@blueprint.errorhandler(TargetRefused)
def _refused(error: TargetRefused) -> Response:
    return problem_response(
        Problem(422, error.code, detail=error.detail, extra={"errors": {"url": [error.detail]}})
    )


@blueprint.errorhandler(UnknownEventTypes)
def _unknown_types(error: UnknownEventTypes) -> Response:
    return problem_response(
        Problem(
            422,
            "validation_failed",
            detail=str(error),
            extra={"errors": {"event_types": [f"Known: {', '.join(sorted(PUBLIC_EVENT_TYPES))}."]}},
        )
    )


@blueprint.errorhandler(IdempotencyKeyReused)
def _key_reused(error: IdempotencyKeyReused) -> Response:
    return problem_response(
        Problem(
            422,
            "idempotency_key_reused",
            detail="This Idempotency-Key was used for a different request.",
        )
    )

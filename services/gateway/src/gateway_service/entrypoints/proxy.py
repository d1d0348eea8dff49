"""The public /v1 routes, each checked at the edge and passed to the service that owns it.

Register in ``create_app`` (after ``create_flask_app``)::

    edge = edge_settings.load()
    app.register_blueprint(
        proxy_blueprint(
            edge,
            auth=bearer_auth,  # paykit BearerAuth of the payments-api audience
            http=PooledUpstreams(edge),
            rate_limits=MerchantRateLimits.from_settings(edge, redis_client),
        )
    )

At the edge, in this order: the body limit (413), the token (401/403: a bad token never reaches
a service), the merchant's rate limit (429), and for creates the body's fields (422: a field
the public API does not name, say ``status`` or ``merchant_id``, is refused, never forwarded).
Then the request goes on with the caller's token, ``Idempotency-Key`` and the request id; the
answer comes back as the service gave it (problem+json included) without hop-by-hop headers.
A service that cannot be reached is a 502, one that does not answer in time a 504.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final
from urllib.parse import quote, quote_from_bytes, urlencode

from flask import Blueprint, Response, g, request

from gateway_service.adapters.ratelimit import MerchantRateLimits
from gateway_service.adapters.upstream_http import (
    UpstreamAnswer,
    Upstreams,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from gateway_service.edge_settings import EdgeSettings
from gateway_service.openapi.operations import IDENTIFIER, PROXIED, Operation, Upstream
from paykit.logging import get_logger
from paykit.problems import MEDIA_TYPE, Problem
from paykit.web import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    current_correlation_id,
    current_request_id,
    json_body,
)
from paykit.web_auth import BearerAuth

# RFC 9110 section 7.6.1, plus the proxy ones; and whatever a Connection header names.
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again for the hop we make, or by the gateway's own response handling.
_NOT_FORWARDED: Final = frozenset(
    {"host", "content-length", "content-encoding", "date", "server"}
    | {REQUEST_ID_HEADER.lower(), CORRELATION_ID_HEADER.lower()}
)
_IDENTIFIER: Final = re.compile(IDENTIFIER)
# RFC 3986's characters allowed in a query, and "%" of the escapes already there.
_QUERY_SAFE: Final = "!$&'()*+,;=:@/?%-._~"

_log = get_logger(__name__)


def end_to_end_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers that may cross the gateway: neither hop-by-hop nor named by ``Connection``."""
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    dropped = HOP_BY_HOP | named | _NOT_FORWARDED
    return [(name, value) for name, value in pairs if name.lower() not in dropped]


def proxy_blueprint(
    settings: EdgeSettings,
    *,
    auth: BearerAuth,
    http: Upstreams,
    rate_limits: MerchantRateLimits,
) -> Blueprint:
    api = Blueprint("public_api", __name__)
    bases = {
        Upstream.PAYMENT: settings.payment_url,
        Upstream.LEDGER: settings.ledger_url,
        Upstream.SETTLEMENT: settings.settlement_url,
        Upstream.WEBHOOK: settings.webhook_url,
    }
    # A schema's fields, read once: building a marshmallow schema costs about a millisecond,
    # as much as the rest of the gateway's work on a create.
    body_fields = {
        operation.operation_id: frozenset(operation.request_body().fields)
        for operation in PROXIED
        if operation.request_body is not None
    }

    def forward(operation: Operation, path_values: Mapping[str, str]) -> Response:
        _refuse_large_body(settings.max_body_bytes)
        merchant = auth.authorise_request(operation.scope).subject
        g.rate_decision = rate_limits.spend(merchant, operation.route_class)
        body = _checked_body(body_fields.get(operation.operation_id))
        url = bases[operation.upstream] + _upstream_path(operation, path_values)
        headers = end_to_end_headers(request.headers.items())
        headers += [
            (REQUEST_ID_HEADER, current_request_id()),
            (CORRELATION_ID_HEADER, current_correlation_id()),
        ]
        try:
            answer = http.send(
                operation.method, url, query=_query(operation), body=body, headers=headers
            )
        except UpstreamTimeout:
            _log.warning("upstream_timeout", upstream=operation.upstream.value)
            raise Problem(
                504, "upstream_timeout", detail="A service behind the gateway took too long."
            ) from None
        except UpstreamUnreachable as error:
            _log.warning(
                "upstream_unreachable", upstream=operation.upstream.value, error=str(error)
            )
            raise Problem(
                502, "upstream_unavailable", detail="A service behind the gateway is unreachable."
            ) from None
        return _relay(operation, answer)

    for operation in PROXIED:
        api.add_url_rule(
            operation.flask_rule,
            operation.operation_id,
            _view(forward, operation),
            methods=[operation.method],
        )

    @api.after_request
    def rate_headers(response: Response) -> Response:
        decision = g.pop("rate_decision", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response.headers.setdefault(name, value)
        return response

    return api


Forward = Callable[[Operation, Mapping[str, str]], Response]


def _view(forward: Forward, operation: Operation) -> Callable[..., Response]:
    def view(**path_values: str) -> Response:
        return forward(operation, path_values)

    view.__name__ = operation.operation_id
    return view


def _refuse_large_body(limit: int) -> None:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Problem(413, "payload_too_large", detail=f"The body is over {limit} bytes.")
    request.max_content_length = limit  # a chunked body is cut off at the limit too


def _checked_body(allowed: frozenset[str] | None) -> bytes | None:
    """The body to forward, refused when it names a field the operation's schema does not;
    ``allowed`` is None for an operation without a body."""
    if allowed is None:
        return None
    unknown = sorted(set(json_body()) - allowed)
    if unknown:
        raise Problem(
            422,
            "validation_failed",
            detail="The request body is not valid.",
            extra={"errors": {name: ["Unknown field."] for name in unknown}},
        )
    return request.get_data(cache=True)


def _upstream_path(operation: Operation, path_values: Mapping[str, str]) -> str:
    values = dict(path_values)
    for name, value in values.items():
        if _IDENTIFIER.fullmatch(value) is None:
            raise Problem(404, "not_found", detail=f"No such {name.removesuffix('_id')}.")
    for parameter in operation.query:
        if parameter.into_path:
            given = request.args.get(parameter.name)
            allowed = parameter.schema.get("enum")
            if given is None or (allowed is not None and given not in allowed):
                raise Problem(
                    400,
                    "invalid_query",
                    detail="The query is not valid.",
                    extra={"errors": {parameter.name: [f"Must be one of {allowed}."]}},
                )
            values[parameter.name] = given
    return operation.upstream_path.format(
        **{name: quote(value, safe="") for name, value in values.items()}
    )


def _query(operation: Operation) -> str:
    moved = {parameter.name for parameter in operation.query if parameter.into_path}
    if not moved:  # as received, with any raw byte that is not ASCII percent-encoded
        return quote_from_bytes(request.query_string, safe=_QUERY_SAFE)
    return urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in moved])


def _relay(operation: Operation, answer: UpstreamAnswer) -> Response:
    content_type = answer.header("content-type")
    if answer.status >= 500 and not content_type.startswith(MEDIA_TYPE):
        _log.error("upstream_error", upstream=operation.upstream.value, status=answer.status)
        raise Problem(
            502, "upstream_error", detail="A service behind the gateway failed to answer."
        )
    if answer.status >= 400 and not content_type.startswith(MEDIA_TYPE):
        # Refused by the service's web server before the service saw it (gunicorn answers an
        # over-long request line 414 in text/html): the status stands, the page does not.
        _log.warning("upstream_refused", upstream=operation.upstream.value, status=answer.status)
        raise Problem(
            answer.status,
            "upstream_refused",
            detail="A service behind the gateway refused the request as sent.",
        )
    response = Response(answer.content, status=answer.status)
    response.headers.clear()
    for name, value in end_to_end_headers(answer.headers):
        response.headers.add(name, value)
    return response

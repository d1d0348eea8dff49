"""gunicorn settings for ``gateway-web``: ``-c python:gateway_service.entrypoints.gunicorn_config``.

A larger request-line limit, and one hook: a request whose declared body is over
``GATEWAY_MAX_BODY_BYTES`` is answered 413 before its body is read
(``proxy._refuse_large_body``), so the bytes still on the wire are not a next request. RFC 9112
section 9.6: the answer must then say ``Connection: close``, or a client pooling connections
sends its next request on one the server is about to drop, and for a create that leaves the
outcome unknown. The application cannot reach gunicorn's connection, so the decision is taken
here, from the same setting, before the application runs.
"""

from __future__ import annotations

from typing import Any

from gateway_service import edge_settings

_max_body_bytes = edge_settings.load().max_body_bytes


def declared_length(headers: list[tuple[str, str]]) -> int | None:
    """The request's ``Content-Length`` (gunicorn has already refused a malformed one)."""
    for name, value in headers:
        if name == "CONTENT-LENGTH":
            return int(value)
    return None


def pre_request(worker: Any, req: Any) -> None:
    length = declared_length(req.headers)
    if length is not None and length > _max_body_bytes:
        req.must_close = True


# gunicorn's largest request line (its default is 4,094 bytes). Every documented parameter fits
# well inside the default; the headroom is for clients that percent-encode what they send twice
# over. Longer lines are answered 414 by gunicorn itself, before the application.
limit_request_line = 8190

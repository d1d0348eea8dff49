"""The Flask app every service starts from: request ids, problem+json errors and health probes.

Services add their blueprints to the app this returns; what is here is the behaviour a client or
an operator must be able to count on across all of them. Every error leaves as problem+json with a
stable code, and an unexpected exception leaves as a bare 500 whose details stay in the logs.
"""

import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from flask import Flask, Response, current_app, g, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from payevents.strict_json import StrictJsonError, loads
from paykit.logging import bind_context, clear_context, get_logger
from paykit.problems import MEDIA_TYPE, Problem, code_for_status

__all__ = [
    "CORRELATION_ID_HEADER",
    "DEFAULT_MAX_CONTENT_LENGTH",
    "REQUEST_ID_HEADER",
    "ReadinessCheck",
    "create_flask_app",
    "current_correlation_id",
    "current_request_id",
    "json_body",
    "problem_response",
]

REQUEST_ID_HEADER: Final = "X-Request-Id"
CORRELATION_ID_HEADER: Final = "X-Correlation-Id"
DEFAULT_MAX_CONTENT_LENGTH: Final = 1024 * 1024
PROBE_PATHS: Final = frozenset({"/healthz", "/readyz"})
# Request bodies are flat documents; anything nested deeper is refused before it is walked.
MAX_JSON_DEPTH: Final = 16

# An incoming id is echoed into headers and logs, so only short, plain tokens are trusted.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_HEADERS_NOT_COPIED: Final = frozenset({"content-type", "content-length"})

ReadinessCheck = Callable[[], None]

_log = get_logger(__name__)


def create_flask_app(
    service_name: str,
    *,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH,
    import_name: str | None = None,
) -> Flask:
    """A Flask app with the platform's request handling installed.

    Each readiness check raises to say "not ready" (a DB or Redis ping, say). Logging is not
    configured here: that happens once per process, in the entry point.
    """
    if max_content_length < 1:
        raise ValueError("max_content_length must be positive")
    app = Flask(import_name or service_name, static_folder=None)
    app.config["SERVICE_NAME"] = service_name
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_forget_request)
    app.register_error_handler(Problem, _render_problem)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)
    checks = dict(readiness_checks or {})

    def readyz() -> Response:
        return _readiness(checks)

    app.add_url_rule("/healthz", "healthz", _healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    return app


def current_request_id() -> str:
    return str(g.request_id)


def current_correlation_id() -> str:
    """The id to stamp on events this request causes, so one journey can be followed end to end."""
    return str(g.correlation_id)


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx problem that says what is wrong with it.

    Duplicate keys are refused: two parsers reading the same body differently is how a checked
    amount and a charged amount drift apart.
    """
    if not request.is_json:
        raise Problem(415, "unsupported_media_type", detail="Send the body as application/json.")
    try:
        value = loads(request.get_data(cache=True), max_depth=MAX_JSON_DEPTH)
    except StrictJsonError as error:
        if error.reason == "too_deep":
            raise Problem(400, "json_too_deep", detail=f"The request body: {error}.") from None
        if error.reason == "not_unicode":
            raise Problem(
                400,
                "invalid_text",
                detail="The request body holds a string that is not valid Unicode"
                " (a lone surrogate).",
            ) from None
        raise Problem(
            400, "malformed_json", detail=f"The request body is not acceptable JSON: {error}."
        ) from None
    if not isinstance(value, dict):
        raise Problem(400, "invalid_json_body", detail="The request body must be a JSON object.")
    return value


def load_or_problem(schema: Schema, values: Mapping[str, Any], *, status: int) -> dict[str, Any]:
    """``values`` loaded by ``schema``, or a problem naming every field: 400 ``invalid_query``
    for a query, 422 ``validation_failed`` for a body."""
    try:
        loaded: dict[str, Any] = schema.load(values)
    except ValidationError as error:
        code, detail = (
            ("invalid_query", "The query is not valid.")
            if status == 400
            else ("validation_failed", "The request body is not valid.")
        )
        raise Problem(status, code, detail=detail, extra={"errors": error.messages}) from None
    return loaded


def problem_response(problem: Problem) -> Response:
    response = current_app.response_class(
        current_app.json.dumps(problem.to_dict()),
        status=problem.status,
        mimetype=MEDIA_TYPE,
    )
    response.headers.update(problem.headers)
    return response


def _start_request() -> None:
    request_id = _sane(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
    correlation_id = _sane(request.headers.get(CORRELATION_ID_HEADER)) or request_id
    g.request_id = request_id
    g.correlation_id = correlation_id
    g.request_started = time.perf_counter()
    clear_context()
    bind_context(request_id=request_id, correlation_id=correlation_id)


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
        response.headers[CORRELATION_ID_HEADER] = g.correlation_id
    if request.path not in PROBE_PATHS or response.status_code >= 400:
        started = g.get("request_started")
        elapsed_ms = None if started is None else round((time.perf_counter() - started) * 1000, 1)
        _log.info(
            "request_finished",
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=elapsed_ms,
        )
    return response


def _forget_request(_: BaseException | None) -> None:
    clear_context()


def _render_problem(problem: Problem) -> Response:
    log = _log.error if problem.status >= 500 else _log.info
    log("problem", status=problem.status, code=problem.code)
    return problem_response(problem)


def _render_http_exception(error: HTTPException) -> BaseResponse:
    if isinstance(error.response, BaseResponse):
        return error.response  # abort(response): the view already chose the answer
    status = error.code or 500
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() not in _HEADERS_NOT_COPIED
    }
    # Werkzeug's 5xx descriptions are generic, but an abort(500, ...) may carry internals.
    detail = error.description if status < 500 else None
    return _render_problem(Problem(status, code_for_status(status), detail=detail, headers=headers))


def _render_unexpected(error: Exception) -> Response:
    _log.error("unhandled_exception", exc_info=error)
    return problem_response(Problem(500, "internal_error", detail="An unexpected error occurred."))


def _healthz() -> Response:
    """Liveness: proves the process serves requests and nothing more, so a slow database never
    gets a healthy process restarted."""
    return _probe_response({"status": "ok"}, 200)


def _readiness(checks: Mapping[str, ReadinessCheck]) -> Response:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:
            # The reason goes to the log only: error text can carry hosts or credentials.
            _log.warning("readiness_check_failed", check=name, exc_info=error)
            results[name] = "failed"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    body = {"status": "ok" if ready else "unavailable", "checks": results}
    return _probe_response(body, 200 if ready else 503)


def _probe_response(body: Mapping[str, Any], status: int) -> Response:
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _sane(value: str | None) -> str | None:
    return value if value is not None and _SANE_ID.fullmatch(value) else None

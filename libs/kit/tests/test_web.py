import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from flask import Flask, abort, jsonify
from flask.testing import FlaskClient
from werkzeug import Response

from paykit.logging import clear_context, configure_logging, current_context, get_logger
from paykit.problems import Problem, code_for_status
from paykit.web import (
    DEFAULT_MAX_CONTENT_LENGTH,
    create_flask_app,
    current_correlation_id,
    current_request_id,
    json_body,
)

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("payment-service", stream=buffer)
    yield buffer
    clear_context()
    structlog.reset_defaults()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def log_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def build_app(**options: Any) -> Flask:
    app = create_flask_app("payment-service", **options)

    @app.post("/echo")
    def echo() -> Response:
        return jsonify(json_body())

    @app.get("/ids")
    def ids() -> Response:
        get_logger("payment_service.views").info("handling")
        return jsonify(request_id=current_request_id(), correlation_id=current_correlation_id())

    @app.get("/conflict")
    def conflict() -> Response:
        raise Problem(
            409,
            "idempotency_conflict",
            detail="Idempotency-Key was used with a different request.",
            extra={"payment_id": "PAY_1"},
            headers={"Retry-After": "1"},
        )

    @app.get("/crash")
    def crash() -> Response:
        raise RuntimeError("password=hunter2 at postgresql://db/payment")

    @app.get("/abort/<int:status>")
    def aborting(status: int) -> Response:
        abort(status, description="Custom description.")

    return app


@pytest.fixture
def client() -> FlaskClient:
    return build_app().test_client()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    return body


def test_healthz_answers_ok_without_touching_dependencies() -> None:
    calls: list[str] = []

    def database() -> None:
        calls.append("database")

    client = build_app(readiness_checks={"database": database}).test_client()
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert calls == []


def test_readyz_answers_ok_when_every_check_passes() -> None:
    checks: dict[str, Callable[[], None]] = {"database": lambda: None, "redis": lambda: None}
    response = build_app(readiness_checks=checks).test_client().get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_names_the_failed_check_without_its_error_text(log_output: io.StringIO) -> None:
    def redis() -> None:
        raise ConnectionError("redis://:hunter2@cache:6379 refused")

    checks: dict[str, Callable[[], None]] = {"database": lambda: None, "redis": redis}
    response = build_app(readiness_checks=checks).test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed"},
    }
    assert b"hunter2" not in response.data
    (failure,) = [line for line in log_lines(log_output) if line["event"] != "request_finished"]
    assert failure["event"] == "readiness_check_failed"
    assert failure["check"] == "redis"
    assert "ConnectionError" in failure["exception"]


def test_readyz_without_checks_is_ready(client: FlaskClient) -> None:
    assert client.get("/readyz").status_code == 200


def test_request_id_is_generated_and_echoed(client: FlaskClient) -> None:
    response = client.get("/ids")
    body = response.get_json()

    assert len(body["request_id"]) == 32
    assert response.headers["X-Request-Id"] == body["request_id"]
    assert body["correlation_id"] == body["request_id"]
    assert response.headers["X-Correlation-Id"] == body["request_id"]


def test_sane_incoming_ids_are_kept(client: FlaskClient) -> None:
    headers = {"X-Request-Id": "req-abc.123", "X-Correlation-Id": "corr:7f3a"}
    response = client.get("/ids", headers=headers)

    assert response.get_json() == {"request_id": "req-abc.123", "correlation_id": "corr:7f3a"}
    assert response.headers["X-Request-Id"] == "req-abc.123"


@pytest.mark.parametrize("incoming", ["<script>", "a" * 129, "id with spaces", "-leading-dash"])
def test_unsafe_incoming_request_id_is_replaced(client: FlaskClient, incoming: str) -> None:
    response = client.get("/ids", headers={"X-Request-Id": incoming})
    assert response.headers["X-Request-Id"] != incoming
    assert len(response.headers["X-Request-Id"]) == 32


def test_request_ids_are_on_every_log_line_of_the_request(log_output: io.StringIO) -> None:
    client = build_app().test_client()
    client.get("/ids", headers={"X-Request-Id": "req-1", "X-Correlation-Id": "corr-1"})

    handled, finished = log_lines(log_output)
    assert handled["event"] == "handling"
    assert finished["event"] == "request_finished"
    assert finished["status"] == 200
    assert finished["path"] == "/ids"
    for line in (handled, finished):
        assert (line["request_id"], line["correlation_id"]) == ("req-1", "corr-1")
    assert current_context() == {}


def test_probe_requests_are_not_access_logged(log_output: io.StringIO) -> None:
    build_app().test_client().get("/healthz")
    assert log_lines(log_output) == []


def test_problem_is_rendered_as_problem_json(client: FlaskClient) -> None:
    response = client.get("/conflict")

    body = assert_problem(response, 409, "idempotency_conflict")
    assert body == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "code": "idempotency_conflict",
        "detail": "Idempotency-Key was used with a different request.",
        "payment_id": "PAY_1",
    }
    assert response.headers["Retry-After"] == "1"
    assert "X-Request-Id" in response.headers


def test_unknown_route_is_a_not_found_problem(client: FlaskClient) -> None:
    response = client.get("/v1/nothing-here")
    assert_problem(response, 404, "not_found")
    assert "X-Request-Id" in response.headers


def test_wrong_method_is_a_method_not_allowed_problem_with_allow(client: FlaskClient) -> None:
    response = client.delete("/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"), (429, "too_many_requests")],
)
def test_aborts_become_problems_with_stable_codes(
    client: FlaskClient, status: int, code: str
) -> None:
    body = assert_problem(client.get(f"/abort/{status}"), status, code)
    assert body["detail"] == "Custom description."


def test_aborted_server_error_does_not_echo_its_description(client: FlaskClient) -> None:
    body = assert_problem(client.get("/abort/500"), 500, "internal_error")
    assert "detail" not in body


def test_body_over_the_limit_is_payload_too_large() -> None:
    client = build_app(max_content_length=64).test_client()
    response = client.post("/echo", json={"description": "x" * 100})
    assert_problem(response, 413, "payload_too_large")


def test_max_content_length_defaults_to_one_mebibyte(client: FlaskClient) -> None:
    assert client.application.config["MAX_CONTENT_LENGTH"] == DEFAULT_MAX_CONTENT_LENGTH == 2**20


def test_unexpected_exception_is_a_bare_internal_error(
    client: FlaskClient, log_output: io.StringIO
) -> None:
    response = client.get("/crash")

    body = assert_problem(response, 500, "internal_error")
    assert body["detail"] == "An unexpected error occurred."
    assert b"hunter2" not in response.data
    assert b"RuntimeError" not in response.data
    crash = next(line for line in log_lines(log_output) if line["event"] == "unhandled_exception")
    assert crash["level"] == "error"
    assert "Traceback" in crash["exception"]
    assert "RuntimeError" in crash["exception"]
    assert crash["request_id"] == response.headers["X-Request-Id"]


def test_json_object_body_is_returned(client: FlaskClient) -> None:
    payload = {"amount": 3000, "currency": "EUR", "metadata": {"order": "A-1"}}
    response = client.post("/echo", json=payload)
    assert response.status_code == 200
    assert response.get_json() == payload


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"amount": 30', "malformed_json"),
        (b"", "malformed_json"),
        (b"   ", "malformed_json"),
        (b'{"amount": NaN}', "malformed_json"),
        (b"\xff\xfe{", "malformed_json"),
        (b"[" * 100_000, "json_too_deep"),
        (b'{"a": ' * 17 + b"1" + b"}" * 17, "json_too_deep"),
    ],
)
def test_malformed_json_body_is_a_bad_request(client: FlaskClient, raw: bytes, code: str) -> None:
    client.application.config["MAX_CONTENT_LENGTH"] = 200_000
    response = client.post("/echo", data=raw, content_type="application/json")
    assert_problem(response, 400, code)


def test_duplicate_keys_in_json_body_are_refused(client: FlaskClient) -> None:
    raw = b'{"amount": 100, "amount": 100000}'
    response = client.post("/echo", data=raw, content_type="application/json")
    body = assert_problem(response, 400, "malformed_json")
    assert body["detail"] == "The request body is not acceptable JSON: duplicate key 'amount'."


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_json_body_that_is_not_an_object_is_refused(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/echo", data=raw, content_type="application/json")
    assert_problem(response, 400, "invalid_json_body")


def test_json_body_with_another_media_type_is_unsupported(client: FlaskClient) -> None:
    response = client.post("/echo", data=b'{"amount": 1}', content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


def test_json_suffixed_media_type_counts_as_json(client: FlaskClient) -> None:
    response = client.post("/echo", data=b'{"a": 1}', content_type="application/merge-patch+json")
    assert response.status_code == 200


def test_problem_refuses_a_success_status() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        Problem(200, "fine")


def test_problem_refuses_extensions_that_replace_standard_members() -> None:
    with pytest.raises(ValueError, match="status"):
        Problem(400, "bad", extra={"status": 200})


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (422, "unprocessable_content"),
        (500, "internal_error"),
        (503, "service_unavailable"),
        (599, "http_error"),
    ],
)
def test_statuses_map_to_stable_codes(status: int, code: str) -> None:
    assert code_for_status(status) == code

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog

from paykit.logging import (
    REDACTED,
    bind_context,
    bound_context,
    clear_context,
    configure_logging,
    current_context,
    get_logger,
    is_secret_key,
)

Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Configure logging into a buffer, and put the standard library back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level

    def _configure(**options: Any) -> io.StringIO:
        buffer = io.StringIO()
        configure_logging("payment-service", stream=buffer, **options)
        return buffer

    yield _configure
    clear_context()
    structlog.reset_defaults()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def only_line(buffer: io.StringIO) -> dict[str, Any]:
    (line,) = lines(buffer)
    return line


def test_structlog_event_is_one_json_line_with_the_standard_fields(configure: Configure) -> None:
    output = configure()
    get_logger("payment_service.handlers").info("payment_created", payment_id="PAY_1", amount=3000)

    line = only_line(output)
    assert line["event"] == "payment_created"
    assert line["level"] == "info"
    assert line["logger"] == "payment_service.handlers"
    assert line["service"] == "payment-service"
    assert line["payment_id"] == "PAY_1"
    assert line["amount"] == 3000


def test_timestamp_is_iso_8601_in_utc(configure: Configure) -> None:
    output = configure()
    before = datetime.now(UTC)
    get_logger().info("tick")

    stamp = only_line(output)["timestamp"]
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    assert abs((parsed - before).total_seconds()) < 5


@pytest.mark.parametrize("library", ["kafka.conn", "gunicorn.error", "werkzeug", "psycopg.pool"])
def test_library_logs_have_the_same_shape(configure: Configure, library: str) -> None:
    output = configure()
    logging.getLogger(library).warning("connected to %s", "broker-1")

    line = only_line(output)
    assert line["event"] == "connected to broker-1"
    assert line["level"] == "warning"
    assert line["logger"] == library
    assert line["service"] == "payment-service"
    assert "timestamp" in line


def test_library_handlers_are_replaced_so_lines_are_not_doubled(configure: Configure) -> None:
    stray = io.StringIO()
    gunicorn = logging.getLogger("gunicorn.access")
    gunicorn.addHandler(logging.StreamHandler(stray))
    gunicorn.propagate = False

    output = configure()
    gunicorn.info('"GET /v1/payments HTTP/1.1" 200')

    assert only_line(output)["logger"] == "gunicorn.access"
    assert stray.getvalue() == ""


def test_bound_context_appears_on_structlog_and_library_lines(configure: Configure) -> None:
    output = configure()
    bind_context(request_id="req-1", correlation_id="corr-1")
    get_logger().info("from_structlog")
    logging.getLogger("werkzeug").info("from_library")

    for line in lines(output):
        assert line["request_id"] == "req-1"
        assert line["correlation_id"] == "corr-1"
    assert len(lines(output)) == 2


def test_context_manager_restores_the_previous_context(configure: Configure) -> None:
    output = configure()
    bind_context(correlation_id="outer")
    with bound_context(correlation_id="inner", event_id="evt-1"):
        get_logger().info("inside")
    get_logger().info("outside")

    inside, outside = lines(output)
    assert (inside["correlation_id"], inside["event_id"]) == ("inner", "evt-1")
    assert outside["correlation_id"] == "outer"
    assert "event_id" not in outside
    assert current_context() == {"correlation_id": "outer"}


def test_cleared_context_is_gone_from_later_lines(configure: Configure) -> None:
    output = configure()
    bind_context(request_id="req-old")
    clear_context()
    get_logger().info("next_request")
    assert "request_id" not in only_line(output)


def test_lines_below_the_level_are_dropped(configure: Configure) -> None:
    output = configure(level="WARNING")
    get_logger().info("quiet")
    logging.getLogger("kafka").info("quiet too")
    get_logger().warning("loud")
    assert [line["event"] for line in lines(output)] == ["loud"]


def test_unknown_level_is_refused(configure: Configure) -> None:
    with pytest.raises(ValueError, match="LOUD"):
        configure(level="LOUD")


def test_configuring_again_replaces_the_previous_output(configure: Configure) -> None:
    first = configure()
    second = configure()
    get_logger().info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1


def test_secret_looking_keys_are_redacted_at_any_depth(configure: Configure) -> None:
    output = configure()
    get_logger().info(
        "outbound_call",
        password="hunter2",
        api_key="sk_live_abc",
        client_secret="cs_123",
        cardNumber="4000056655665556",
        cvv="123",
        headers={"Authorization": "Bearer abc", "X-Api-Key": "k_1", "Accept": "json"},
        attempts=[{"access_token": "at_1", "status": 200}],
    )

    line = only_line(output)
    for key in ("password", "api_key", "client_secret", "cardNumber", "cvv"):
        assert line[key] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "json"}
    assert line["attempts"] == [{"access_token": REDACTED, "status": 200}]
    raw = output.getvalue()
    for secret in ("hunter2", "sk_live_abc", "cs_123", "4000056655665556", "k_1", "at_1"):
        assert secret not in raw


def test_redaction_does_not_change_the_callers_objects(configure: Configure) -> None:
    configure()
    headers = {"Authorization": "Bearer abc"}
    get_logger().info("call", headers=headers)
    assert headers == {"Authorization": "Bearer abc"}


def test_payment_terms_that_only_sound_secret_are_kept(configure: Configure) -> None:
    output = configure()
    get_logger().info("authorized", authorization_id="auth_1", idempotency_key="idem-1")
    line = only_line(output)
    assert (line["authorization_id"], line["idempotency_key"]) == ("auth_1", "idem-1")


def test_card_number_inside_text_is_redacted(configure: Configure) -> None:
    output = configure()
    get_logger().info("declined card 4111 1111 1111 1111 for order 4111111111111112")

    event = only_line(output)["event"]
    assert "4111 1111 1111 1111" not in event
    assert event == f"declined card {REDACTED} for order 4111111111111112"  # not a Luhn number


def test_bearer_and_jwt_shaped_text_is_redacted(configure: Configure) -> None:
    output = configure()
    jwt_shaped = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXJjaGFudCJ9.c2lnbmF0dXJlLWJ5dGVz"
    get_logger().info(f"token rejected: {jwt_shaped}", note="Bearer abcdefghijklmnop1234")

    line = only_line(output)
    assert jwt_shaped not in output.getvalue()
    assert line["note"] == f"Bearer {REDACTED}"


def test_library_extra_fields_are_shown_and_redacted(configure: Configure) -> None:
    output = configure()
    logging.getLogger("werkzeug").info("login", extra={"user": "ops", "password": "hunter2"})

    line = only_line(output)
    assert line["user"] == "ops"
    assert line["password"] == REDACTED


def test_exception_is_logged_with_its_traceback(configure: Configure) -> None:
    output = configure()
    try:
        raise ValueError("card 4111 1111 1111 1111 refused")
    except ValueError:
        get_logger().exception("handler_failed")

    line = only_line(output)
    assert line["level"] == "error"
    assert "Traceback" in line["exception"]
    assert f"ValueError: card {REDACTED} refused" in line["exception"]


def test_development_output_is_readable_and_still_redacted(configure: Configure) -> None:
    output = configure(json=False)
    get_logger("dev").info("started", password="hunter2", port=8080)

    text = output.getvalue()
    assert "started" in text
    assert "port=8080" in text
    assert "hunter2" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize(
    "key",
    [
        *("password", "DB_PASSWORD", "client_secret", "refreshToken", "x-api-key", "apiKey"),
        *("APIKey", "Authorization", "Cookie", "card_number", "pan", "cvc", "private_key"),
        "secret_key",
    ],
)
def test_secret_key_names_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["amount", "authorization_id", "idempotency_key", "company", "span", "kid", "event"]
)
def test_ordinary_key_names_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_chatty_libraries_keep_only_their_warnings(configure: Configure) -> None:
    output = configure()
    logging.getLogger("kafka.consumer.fetcher").info("Resetting offset")
    logging.getLogger("psycopg.pool").info("adding new connection to the pool")
    logging.getLogger("kafka.conn").warning("broker went away")
    assert [line["event"] for line in lines(output)] == ["broker went away"]

"""One logging set-up for every process: structlog in front, the standard library underneath.

Library loggers (gunicorn, werkzeug, kafka, psycopg) go through the same processors as our own
structlog calls, so every line has the same shape: JSON in production, readable in development,
ISO UTC timestamps, the service name, and whatever request or correlation ids the current
context carries. Secrets are redacted on the way out, because the cheapest leak to prevent is the
one that never reaches a log shipper.
"""

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "REDACTED",
    "bind_context",
    "bound_context",
    "clear_context",
    "configure_logging",
    "current_context",
    "get_logger",
    "is_secret_key",
    "redact_event",
]

REDACTED: Final = "[REDACTED]"

# A key is secret if one of its words is one of these ("client_secret", "refreshToken")...
_SECRET_WORDS: Final = frozenset(
    {
        "password", "passwd", "passphrase", "secret", "secrets", "token", "tokens",
        "credential", "credentials", "cookie", "cookies", "pan", "cvv", "cvc", "cvv2", "pin",
    }
)  # fmt: skip
# ...or if it contains one of these words run together, with or without separators.
_SECRET_COMPOUNDS: Final = ("apikey", "cardnumber", "privatekey", "accesskey", "secretkey")
# "authorization" alone is the HTTP header; "authorization_id" is a payments term, not a secret.
_SECRET_KEYS: Final = frozenset({"authorization", "proxy_authorization", "set_cookie"})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SEPARATORS = re.compile(r"[^a-z0-9]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,}")
_JWT_SHAPED = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CARD_NUMBER_SHAPED = re.compile(r"(?<![0-9])[2-6][0-9](?:[ -]?[0-9]){11,17}(?![0-9])")
_MAX_DEPTH: Final = 6

# Loggers that install their own handlers; they are made to propagate to the root handler instead.
ADOPTED_LOGGERS: Final = (
    "gunicorn",
    "gunicorn.error",
    "gunicorn.access",
    "werkzeug",
    "kafka",
    "psycopg",
    "psycopg.pool",
    "httpx",
)
# Chatty at INFO (every rebalance step, every pooled connection, every request an HTTP client
# makes, which the caller logs with its own context): only their warnings are kept.
QUIET_LOGGERS: Final = frozenset({"kafka", "psycopg.pool", "httpx"})


class _KitHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module owns, so configuring again replaces it."""


def configure_logging(
    service: str,
    *,
    json: bool = True,
    level: str | int = "INFO",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and the standard library into one handler on the root logger.

    Call once at process start (an app factory or a worker's main); calling again replaces the
    previous set-up, which tests rely on. `stream` defaults to stdout, where containers collect.
    """
    numeric_level = _level(level)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_service(service),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so reconfiguring (in tests) also reaches loggers created earlier.
        cache_logger_on_first_use=False,
    )
    output = sys.stdout if stream is None else stream
    handler = _KitHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=_output_processors(json=json, colors=_is_tty(output)),
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    for name in ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        adopted.handlers.clear()
        adopted.propagate = True
        quiet = name in QUIET_LOGGERS and numeric_level < logging.WARNING
        adopted.setLevel(logging.WARNING if quiet else logging.NOTSET)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def bind_context(**values: Any) -> None:
    """Add fields to every line logged from the current context (thread, task) from now on."""
    structlog.contextvars.bind_contextvars(**values)


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    """Add fields for the duration of a block, restoring what was there before."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def clear_context() -> None:
    """Forget all context fields: a reused worker thread must not carry the last request's ids."""
    structlog.contextvars.clear_contextvars()


def current_context() -> Mapping[str, Any]:
    return structlog.contextvars.get_contextvars()


def redact_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask secret-looking keys at any depth and secret-looking text in any string.

    Copies rather than edits nested containers: they may be the caller's live objects.
    """
    return {key: _redacted(key, value, 0) for key, value in event_dict.items()}


# Log keys are a small set of names, asked about on every line: about 40 us each to work out.
@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    snake = _CAMEL_BOUNDARY.sub("_", key).lower()
    words = [word for word in _WORD_SEPARATORS.split(snake) if word]
    joined = "".join(words)
    return (
        "_".join(words) in _SECRET_KEYS
        or any(word in _SECRET_WORDS for word in words)
        or any(compound in joined for compound in _SECRET_COMPOUNDS)
    )


def _redacted(key: object, value: object, depth: int) -> object:
    if isinstance(key, str) and is_secret_key(key) and value is not None:
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if key == "exc_info" or not isinstance(value, Mapping | list | tuple):
        return value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redacted(k, v, depth + 1) for k, v in value.items()}
    items = [_redacted(None, item, depth + 1) for item in value]
    return items if isinstance(value, list) else tuple(items)


def _redact_text(text: str) -> str:
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    text = _JWT_SHAPED.sub(REDACTED, text)
    return _CARD_NUMBER_SHAPED.sub(_mask_card_number, text)


def _mask_card_number(match: re.Match[str]) -> str:
    digits = [int(char) for char in match.group() if char.isdigit()]
    return REDACTED if _passes_luhn(digits) else match.group()


def _passes_luhn(digits: list[int]) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _output_processors(*, json: bool, colors: bool) -> list[Processor]:
    if json:
        return [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,
            structlog.processors.JSONRenderer(),
        ]
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        redact_event,
        structlog.dev.ConsoleRenderer(colors=colors),
    ]


def _add_service(service: str) -> Processor:
    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    numeric = logging.getLevelNamesMapping().get(level.strip().upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    return numeric


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

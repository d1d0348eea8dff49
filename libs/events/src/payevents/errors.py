"""The one error a consumer has to understand to route a bad message.

Every way a message can be unusable maps to a single exception type with a stable ``reason`` code,
so the consumer runtime can send it to the dead letter queue (it will never succeed on retry) and
dashboards can count failures by reason without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

InvalidEventReason = Literal[
    "malformed_json",
    "invalid_envelope",
    "unknown_type",
    "unknown_version",
    "schema_violation",
]


class InvalidEvent(Exception):
    """A message that no retry can fix: bad bytes, a bad envelope or data breaking its schema."""

    def __init__(
        self,
        reason: InvalidEventReason,
        message: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: InvalidEventReason = reason
        self.message = message
        self.errors: dict[str, list[str]] = dict(errors or {})

    def __repr__(self) -> str:
        return f"InvalidEvent(reason={self.reason!r}, message={self.message!r})"


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error messages into ``{"entries.0.amount": [...]}``.

    Dotted paths make the offending field obvious in a log line or a DLQ header.
    """
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_messages(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return {prefix or "_schema": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for index, value in enumerate(messages):
            flat.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "_schema": [str(messages)]}


def describe_messages(errors: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{path}: {' '.join(texts)}" for path, texts in sorted(errors.items()))

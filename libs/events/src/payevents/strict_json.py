"""One strict reading of JSON bytes for every boundary: Kafka messages, API bodies, webhooks.

Duplicate keys, NaN/Infinity, non-UTF-8 text and lone surrogates (``"\ud800"`` is valid JSON
but no Unicode string: it cannot be stored or written out as UTF-8) are refused: two parsers
reading one document differently is how a verified amount and an applied amount drift apart.
Nesting can be bounded, measured without recursion so a hostile document cannot overflow the
stack.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

StrictJsonReason = Literal[
    "not_utf8", "empty", "duplicate_key", "invalid", "too_deep", "not_unicode"
]
# Only an escape can put a surrogate into a document that decoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictJsonError(ValueError):
    def __init__(self, reason: StrictJsonReason, message: str) -> None:
        super().__init__(message)
        self.reason: StrictJsonReason = reason


def loads_object(raw: bytes, *, max_depth: int | None = None) -> dict[str, Any]:
    """``raw`` as a JSON object; StrictJsonError (reason ``invalid``) for any other value."""
    value = loads(raw, max_depth=max_depth)
    if not isinstance(value, dict):
        raise StrictJsonError("invalid", f"a JSON {type(value).__name__}, not an object")
    return value


def loads(raw: bytes, *, max_depth: int | None = None) -> Any:
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as error:
        raise StrictJsonError("not_utf8", f"not UTF-8 text: {error}") from None
    if not text.strip():
        raise StrictJsonError("empty", "empty document")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _DuplicateKey as error:
        raise StrictJsonError("duplicate_key", f"duplicate key {error.key[:64]!r}") from None
    except RecursionError:
        raise StrictJsonError("too_deep", "nested too deep to parse") from None
    except ValueError as error:
        raise StrictJsonError("invalid", f"not valid JSON: {error}") from None
    if max_depth is not None and nesting_exceeds(value, max_depth):
        raise StrictJsonError("too_deep", f"objects and arrays nest deeper than {max_depth}")
    if _SURROGATE_ESCAPE.search(text) and has_lone_surrogate(value):
        raise StrictJsonError("not_unicode", "a string holds a lone surrogate, not Unicode text")
    return value


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (keys included) cannot be encoded as UTF-8."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def nesting_exceeds(value: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest deeper than ``max_depth`` (``{}`` is depth 1)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

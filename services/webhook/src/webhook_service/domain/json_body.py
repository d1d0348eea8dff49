"""Reading a webhook body as one JSON object, within limits that keep a parser safe.

Deliberately independent of Flask: the raw bytes are what the signature covers, and the same
bytes are what gets parsed, so there is exactly one reading of every accepted body.
"""

from __future__ import annotations

import json
from typing import Any

from webhook_service.domain.errors import InvalidWebhookBody, JsonTooDeep, MalformedJson


def load_json_object(raw: bytes, *, max_depth: int) -> dict[str, Any]:
    """The body as a dict, refusing bad UTF-8, duplicate keys, NaN/Infinity and deep nesting.

    Duplicate keys are refused because two parsers reading one signed body differently is how a
    verified amount and an applied amount drift apart.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("The body is not UTF-8 text.") from None
    if not text.strip():
        raise MalformedJson("The body is empty.")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except _DuplicateKey as error:
        raise MalformedJson(f"Duplicate key {error.key[:64]!r}.") from None
    except ValueError:
        raise MalformedJson("The body is not valid JSON.") from None
    if nesting_exceeds(value, max_depth):
        raise _too_deep(max_depth)
    if not isinstance(value, dict):
        raise InvalidWebhookBody("The body must be a JSON object.")
    return value


def nesting_exceeds(value: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest deeper than ``max_depth`` (``{}`` is depth 1).

    Iterative, so measuring a hostile document cannot itself overflow the stack.
    """
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


def _too_deep(max_depth: int) -> JsonTooDeep:
    return JsonTooDeep(f"The body nests objects and arrays deeper than {max_depth} levels.")


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

"""Reading a webhook body as one JSON object, within limits that keep a parser safe.

Deliberately independent of Flask: the raw bytes are what the signature covers, and the same
bytes are what gets parsed, so there is exactly one reading of every accepted body.
"""

from __future__ import annotations

from typing import Any

from payevents.strict_json import StrictJsonError, loads
from webhook_service.domain.errors import InvalidWebhookBody, JsonTooDeep, MalformedJson


def load_json_object(raw: bytes, *, max_depth: int) -> dict[str, Any]:
    """The body as a dict, refusing bad UTF-8, duplicate keys, NaN/Infinity and deep nesting."""
    try:
        value = loads(raw, max_depth=max_depth)
    except StrictJsonError as error:
        if error.reason == "too_deep":
            raise JsonTooDeep(
                f"The body nests objects and arrays deeper than {max_depth} levels."
            ) from None
        raise MalformedJson(f"The body is not acceptable JSON: {error}.") from None
    if not isinstance(value, dict):
        raise InvalidWebhookBody("The body must be a JSON object.")
    return value

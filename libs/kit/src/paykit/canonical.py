"""One canonical form of JSON and one idempotency-key rule, for every service.

Two bodies that say the same thing (other key order, other spacing) must hash the same, or an
idempotent retry becomes "a different request" and a webhook retry "a new event". Services hash
through ``digest`` so they cannot drift apart on what "the same" means.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
"""1 to 255 printable ASCII characters, no spaces: what every creating POST accepts."""


def valid_idempotency_key(key: str | None) -> bool:
    return key is not None and IDEMPOTENCY_KEY.fullmatch(key) is not None


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN or infinities."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(*parts: str | bytes | Any) -> str:
    """SHA-256 hex over the parts: strings and bytes as they are, anything else canonical JSON.

    Parts are length-prefixed, so ("ab", "c") and ("a", "bc") never collide.
    """
    hasher = hashlib.sha256()
    for part in parts:
        raw = (
            part
            if isinstance(part, bytes)
            else part.encode()
            if isinstance(part, str)
            else canonical_json(part)
        )
        hasher.update(f"{len(raw)}:".encode())
        hasher.update(raw)
    return hasher.hexdigest()

"""Idempotency keys: the same request under the same key is answered once, then replayed."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


def valid_key(key: str | None) -> bool:
    return key is not None and KEY_PATTERN.fullmatch(key) is not None


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """Identifies a request by what it asks for, so key order or spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]

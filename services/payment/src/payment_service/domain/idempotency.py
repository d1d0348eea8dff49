"""Idempotency keys: the same request under the same key is answered once, then replayed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from paykit.canonical import canonical_json, digest


@dataclass(frozen=True)
class RequestFingerprint:
    """Identifies a request by what it asks for, so key order or spacing do not matter."""

    method: str
    path: str
    body: dict[str, Any]

    @property
    def value(self) -> str:
        return digest(self.method, self.path, self.body)

    def matches(self, stored: str) -> bool:
        """Also accepts the digest keys stored before ``paykit.canonical`` made it (without
        length prefixes); those expire with the key retention, and this with them."""
        legacy = f"{self.method} {self.path}\n".encode() + canonical_json(self.body)
        return stored in (self.value, hashlib.sha256(legacy).hexdigest())


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]

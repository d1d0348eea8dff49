"""Idempotency: one key names one request; replaying it returns what it made."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    resource_id: str

    def matches(self, fingerprint: str) -> bool:
        return self.fingerprint == fingerprint


def fingerprint(request: Mapping[str, object]) -> str:
    """A digest of the parsed request: key order and whitespace do not make a body "different"."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()

"""Idempotency: one key names one request; replaying it returns what it made."""

from collections.abc import Mapping
from dataclasses import dataclass

from paykit.canonical import digest


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    resource_id: str

    def matches(self, fingerprint: str) -> bool:
        return self.fingerprint == fingerprint


def fingerprint(request: Mapping[str, object]) -> str:
    """A digest of the parsed request: key order and whitespace do not make a body "different"."""
    return digest(dict(request))

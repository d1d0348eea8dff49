"""Tokens verified a moment ago, so a client's repeated token is not checked from scratch.

A merchant sends the same bearer token with every request until it expires. Checking it in full
(PyJWT's parsing of the three segments, the RS256 signature, the claims) costs about as much
CPU as the rest of a create in the payment service, and the gateway and the service behind it
each pay it. The outcome of that check cannot change for the same string while the key that
signed it is still trusted and the token has not expired, so it is kept for a short while:

- only successes are kept; a refused token is checked in full every time;
- an entry is reused for at most ``reuse_seconds`` and never past the token's ``exp``;
- every reuse asks the key set again for the token's kid and requires the same key, so a key
  withdrawn from the JWKS stops its tokens at once, not when their entries age out;
- at most ``capacity`` entries, the oldest dropped first, so a flood of distinct tokens costs
  bounded memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from paykit.auth.key_sets import KeySet

REUSE_SECONDS: Final = 30.0
CAPACITY: Final = 4096

ClaimsT = TypeVar("ClaimsT")


@dataclass(frozen=True, slots=True)
class _Verified(Generic[ClaimsT]):
    claims: ClaimsT
    kid: str
    key_numbers: rsa.RSAPublicNumbers
    reuse_until: float


class VerifiedTokens(Generic[ClaimsT]):
    def __init__(
        self,
        *,
        reuse_seconds: float = REUSE_SECONDS,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if reuse_seconds < 0 or capacity < 0:
            raise ValueError("reuse_seconds and capacity must not be negative")
        self._reuse_seconds = reuse_seconds
        self._capacity = capacity
        self._clock = clock
        self._entries: dict[str, _Verified[ClaimsT]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def recall(self, token: str, keys: KeySet) -> ClaimsT | None:
        """The claims of ``token`` if it was verified lately and its key is still trusted."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        key = keys.key(entry.kid)
        if (
            self._clock() < entry.reuse_until
            and isinstance(key, rsa.RSAPublicKey)
            and key.public_numbers() == entry.key_numbers
        ):
            return entry.claims
        with self._lock:
            self._entries.pop(token, None)
        return None

    def remember(
        self, token: str, claims: ClaimsT, *, kid: str, key: rsa.RSAPublicKey, expires_at: float
    ) -> None:
        """Keep a token that was just verified in full, until ``expires_at`` at the latest."""
        if self._capacity == 0:
            return
        entry = _Verified(
            claims, kid, key.public_numbers(), min(self._clock() + self._reuse_seconds, expires_at)
        )
        with self._lock:
            while len(self._entries) >= self._capacity:
                self._entries.pop(next(iter(self._entries)))
            self._entries[token] = entry

"""Trusted public keys by kid, fixed or refreshed from the gateway's published JWKS.

The gateway rotates its signing key while services run, so a verifier cannot hold one key set
read at start-up. A `RefreshingKeySet` keeps the last key set it loaded and loads it again when
its cache has aged (a TTL) or when a token names a kid it does not know, at most once every few
seconds: a flood of tokens with invented kids cannot turn each request into a fetch, and a
freshly rotated key is trusted within one refresh. A failed refresh keeps the keys it had, so a
gateway restart never locks callers out.

Kept free of Flask; safe to share between the threads of a gunicorn worker.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from paykit.auth.jwks import InvalidJwks, keys_from_jwks
from paykit.logging import get_logger

DEFAULT_TTL_SECONDS: Final = 300.0
DEFAULT_MIN_REFRESH_INTERVAL_SECONDS: Final = 5.0
DEFAULT_FETCH_TIMEOUT_SECONDS: Final = 2.0
# A JWKS of a handful of 2048-bit keys is a few kilobytes; anything far larger is not ours.
MAX_JWKS_BYTES: Final = 256 * 1024

PublicKeys = Mapping[str, RSAPublicKey]
KeyLoader = Callable[[], PublicKeys]

_log = get_logger(__name__)


class KeySet(Protocol):
    """Where a verifier looks up the public key a token's kid names."""

    def key(self, kid: str) -> RSAPublicKey | None: ...


class StaticKeySet:
    """Keys fixed for the life of the process (tests, tools, a JWKS file with no URL)."""

    def __init__(self, keys: PublicKeys) -> None:
        self._keys = dict(keys)

    def key(self, kid: str) -> RSAPublicKey | None:
        return self._keys.get(kid)

    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)


class RefreshingKeySet:
    """Keys from `load`, reloaded after `ttl` seconds and on an unknown kid (rate limited).

    `initial` are the keys to trust until the first load succeeds (the JWKS file a service was
    configured with), so a service that starts before the gateway still verifies the keys it
    knew. The first load is attempted at once; its failure is logged, not raised.
    """

    def __init__(
        self,
        load: KeyLoader,
        *,
        initial: PublicKeys | None = None,
        ttl: float = DEFAULT_TTL_SECONDS,
        min_refresh_interval: float = DEFAULT_MIN_REFRESH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        name: str = "jwks",
    ) -> None:
        if ttl <= 0 or min_refresh_interval < 0:
            raise ValueError("ttl must be positive and min_refresh_interval not negative")
        self._load = load
        self._ttl = ttl
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._name = name
        self._lock = threading.Lock()
        self._keys: dict[str, RSAPublicKey] = dict(initial or {})
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self.refresh()

    def key(self, kid: str) -> RSAPublicKey | None:
        if self._stale():
            self._refresh_unless_busy()
        found = self._keys.get(kid)
        if found is None:
            # Waits for a fetch in flight (it may bring this kid); fetches itself only when
            # the interval allows, so invented kids cost a lock, never a request.
            self.refresh()
            found = self._keys.get(kid)
        return found

    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def refresh(self) -> bool:
        """Load the keys now (unless another thread just did); True when the set is fresh."""
        with self._lock:
            if self._attempted_at is not None and not self._may_attempt():
                return self._loaded_at == self._attempted_at
            return self._refresh_locked()

    def _refresh_unless_busy(self) -> None:
        """On a TTL expiry one thread reloads; the others keep using the keys they have."""
        if self._lock.acquire(blocking=False):
            try:
                if self._stale() and self._may_attempt():
                    self._refresh_locked()
            finally:
                self._lock.release()

    def _refresh_locked(self) -> bool:
        now = self._clock()
        self._attempted_at = now
        try:
            keys = dict(self._load())
        except Exception as error:  # any failure keeps the keys already trusted
            _log.warning("key_set_refresh_failed", key_set=self._name, error=str(error))
            return False
        if set(keys) != set(self._keys):
            _log.info("key_set_changed", key_set=self._name, kids=sorted(keys))
        self._keys = keys  # one reference swap: readers see the old or the new set, whole
        self._loaded_at = now
        return True

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._ttl

    def _may_attempt(self) -> bool:
        return (
            self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval
        )


def jwks_from_file(path: Path) -> dict[str, RSAPublicKey]:
    return keys_from_jwks(json.loads(path.read_text()))


def jwks_loader(url: str, *, timeout: float = DEFAULT_FETCH_TIMEOUT_SECONDS) -> KeyLoader:
    """A loader that GETs a JWKS document over HTTP(S)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"a JWKS URL must be http(s); got {url!r}")

    def load() -> dict[str, RSAPublicKey]:
        fetch = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(fetch, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise InvalidJwks(f"the JWKS at {url} is larger than {MAX_JWKS_BYTES} bytes")
        return keys_from_jwks(json.loads(body))

    return load

"""The optional Redis fast path in front of the database's replay guard.

Only ever a shortcut: an id is remembered after its accepting transaction commits, so the cache
never claims an id the database has not accepted, and any Redis error counts as "not seen".
"""

from __future__ import annotations

from typing import Final

import redis

from paykit.logging import get_logger

KEY_PREFIX: Final = "webhook:accepted:"

_log = get_logger(__name__)


class RedisReplayCache:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be positive")
        self._client = client
        self._ttl = ttl_seconds

    def seen(self, psp_event_id: str) -> bool:
        try:
            return bool(self._client.exists(KEY_PREFIX + psp_event_id))
        except redis.RedisError as error:
            _log.warning("replay_cache_unavailable", operation="seen", error=type(error).__name__)
            return False

    def remember(self, psp_event_id: str) -> None:
        try:
            self._client.set(KEY_PREFIX + psp_event_id, b"1", ex=self._ttl)
        except redis.RedisError as error:
            _log.warning(
                "replay_cache_unavailable", operation="remember", error=type(error).__name__
            )


class NoReplayCache:
    """Used when no Redis is configured: every check goes to the database."""

    def seen(self, psp_event_id: str) -> bool:
        return False

    def remember(self, psp_event_id: str) -> None:
        return None

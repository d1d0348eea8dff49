"""SQL for the endpoints API's Idempotency-Keys: the first request with a key claims it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from paykit.db import Connection


@dataclass(frozen=True)
class KeyedRequest:
    fingerprint: str
    endpoint_id: str
    secret_id: str
    previous_secret_expires_at: datetime | None = None


class RequestKeys:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(
        self, merchant_id: str, key: str, request: KeyedRequest, now: datetime
    ) -> KeyedRequest | None:
        """None when this request now owns the key; else what the key's first request was.

        A concurrent request with the same key waits here for the first one's commit (the
        primary key), then finds it: two answers never both create.
        """
        claimed = self._conn.execute(
            "INSERT INTO webhook_endpoint_requests (merchant_id, idempotency_key, fingerprint,"
            " endpoint_id, secret_id, previous_secret_expires_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                merchant_id,
                key,
                request.fingerprint,
                request.endpoint_id,
                request.secret_id,
                request.previous_secret_expires_at,
                now,
            ),
        )
        if claimed.rowcount == 1:
            return None
        row = self._conn.execute(
            "SELECT fingerprint, endpoint_id, secret_id, previous_secret_expires_at"
            " FROM webhook_endpoint_requests"
            " WHERE merchant_id = %s AND idempotency_key = %s",
            (merchant_id, key),
        ).fetchone()
        assert row is not None, "the conflicting row is committed before ON CONFLICT sees it"
        return KeyedRequest(*row)

"""Idempotency keys in PostgreSQL."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from paykit.db import Connection
from payment_service.domain.idempotency import StoredResponse
from payment_service.service_layer.unit_of_work import IdempotencyRecord, RequestInFlight

_LOCK_TIMEOUT_OUTSIDE_CLAIM = "payment.lock_timeout_outside_claim"


class PostgresIdempotency:
    def __init__(self, conn: Connection, lock_timeout_ms: int) -> None:
        self.conn = conn
        self.lock_timeout_ms = lock_timeout_ms

    def claim(self, merchant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        # A concurrent request holding the same key makes this INSERT wait for its transaction:
        # it then sees that request's stored response, or gives up after the lock timeout. The
        # transaction's own lock timeout, whatever it was, applies again afterwards: it is kept
        # in a transaction-local setting rather than read back into Python, so that in pipeline
        # mode everything up to the INSERT's answer travels in one round trip. Giving up aborts
        # the transaction (no savepoint, which would cost round trips of its own): the caller's
        # request is refused as in flight and its transaction rolled back.
        self.conn.execute(
            "SELECT set_config(%s, current_setting('lock_timeout'), true)",
            (_LOCK_TIMEOUT_OUTSIDE_CLAIM,),
        )
        self.conn.execute(
            "SELECT set_config('lock_timeout', %s, true)", (f"{int(self.lock_timeout_ms)}ms",)
        )
        try:
            inserted = self.conn.execute(
                "INSERT INTO idempotency_keys (merchant_id, key, fingerprint)"
                " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (merchant_id, key, fingerprint),
            ).fetchone()
        except psycopg.errors.LockNotAvailable as busy:
            raise RequestInFlight(key) from busy
        self.conn.execute(
            "SELECT set_config('lock_timeout', current_setting(%s), true)",
            (_LOCK_TIMEOUT_OUTSIDE_CLAIM,),
        )
        if inserted:
            return None
        found = self.conn.execute(
            "SELECT fingerprint, response_status, response_body FROM idempotency_keys"
            " WHERE merchant_id = %s AND key = %s",
            (merchant_id, key),
        ).fetchone()
        if found is None:  # pruned between the two statements: treat as in flight, retry later
            raise RequestInFlight(key)
        response = StoredResponse(found[1], found[2]) if found[1] is not None else None
        return IdempotencyRecord(found[0], response)

    def complete(self, merchant_id: str, key: str, response: StoredResponse) -> None:
        self.conn.execute(
            "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
            " WHERE merchant_id = %s AND key = %s",
            (response.status, Jsonb(response.body), merchant_id, key),
        )

    def prune(self, older_than_hours: float) -> int:
        return self.conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => %s)",
            (older_than_hours,),
        ).rowcount

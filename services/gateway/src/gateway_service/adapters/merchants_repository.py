"""Merchants and API keys in the gateway's database; every statement parameterised."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from gateway_service.domain.credentials import StoredKey
from paykit.db import Connection


class MerchantsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_merchant(self, merchant_id: str, name: str, client_id: str) -> datetime:
        row = self._conn.execute(
            "INSERT INTO merchants (id, name, client_id) VALUES (%s, %s, %s) RETURNING created_at",
            (merchant_id, name, client_id),
        ).fetchone()
        assert row is not None
        created_at: datetime = row[0]
        return created_at

    def merchant(self, merchant_id: str) -> dict[str, Any] | None:
        with self._conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                "SELECT id, name, client_id, created_at FROM merchants WHERE id = %s",
                (merchant_id,),
            ).fetchone()

    def merchants(self, *, after: str | None, limit: int) -> list[dict[str, Any]]:
        with self._conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                "SELECT m.id, m.name, m.client_id, m.created_at,"
                " count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys"
                " FROM merchants m LEFT JOIN api_keys k ON k.merchant_id = m.id"
                " WHERE %(after)s::text IS NULL OR m.id > %(after)s"
                " GROUP BY m.id ORDER BY m.id LIMIT %(limit)s",
                {"after": after, "limit": limit},
            ).fetchall()

    def add_key(self, key_id: str, merchant_id: str, prefix: str, secret_sha256: bytes) -> datetime:
        row = self._conn.execute(
            "INSERT INTO api_keys (id, merchant_id, prefix, secret_sha256)"
            " VALUES (%s, %s, %s, %s) RETURNING created_at",
            (key_id, merchant_id, prefix, secret_sha256),
        ).fetchone()
        assert row is not None
        created_at: datetime = row[0]
        return created_at

    def keys(self, merchant_id: str) -> list[dict[str, Any]]:
        with self._conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                "SELECT id, prefix, created_at, last_used_at, revoked_at FROM api_keys"
                " WHERE merchant_id = %s ORDER BY created_at, id",
                (merchant_id,),
            ).fetchall()

    def revoke_key(self, merchant_id: str, key_id: str) -> dict[str, Any] | None:
        """The key, revoked now (or when it was first revoked); None if the merchant has no such
        key."""
        with self._conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
                " WHERE merchant_id = %s AND id = %s"
                " RETURNING id, prefix, created_at, last_used_at, revoked_at",
                (merchant_id, key_id),
            ).fetchone()

    def active_keys_of_client(self, client_id: str) -> list[StoredKey]:
        rows = self._conn.execute(
            "SELECT k.id, k.merchant_id, k.secret_sha256 FROM merchants m"
            " JOIN api_keys k ON k.merchant_id = m.id"
            " WHERE m.client_id = %s AND k.revoked_at IS NULL",
            (client_id,),
        ).fetchall()
        return [StoredKey(key_id, merchant, bytes(digest)) for key_id, merchant, digest in rows]

    def mark_used(self, key_id: str) -> None:
        self._conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))

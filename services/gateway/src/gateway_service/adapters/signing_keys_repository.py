"""The gateway's signing keys in its database: the private halves sealed, the public in PEM."""

from __future__ import annotations

from datetime import datetime

from gateway_service.domain.signing_keys import PublishedKey
from paykit.db import Connection


class SigningKeysRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock(self) -> None:
        """Serialise imports and rotations (two workers starting, an operator rotating)."""
        self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('gateway.signing_keys'))")

    def add(
        self,
        kid: str,
        public_key_pem: str,
        nonce: bytes,
        encrypted_private_key: bytes,
        signs_from: datetime,
    ) -> None:
        self._conn.execute(
            "INSERT INTO signing_keys"
            " (kid, public_key_pem, nonce, encrypted_private_key, signs_from)"
            " VALUES (%s, %s, %s, %s, %s)",
            (kid, public_key_pem, nonce, encrypted_private_key, signs_from),
        )

    def retire_signing_key(self, retired_at: datetime, published_until: datetime) -> str | None:
        row = self._conn.execute(
            "UPDATE signing_keys SET retired_at = %s, published_until = %s"
            " WHERE retired_at IS NULL RETURNING kid",
            (retired_at, published_until),
        ).fetchone()
        return None if row is None else str(row[0])

    def signing_key(self, now: datetime) -> tuple[str, bytes, bytes] | None:
        """The kid, nonce and sealed private key of the key that signs at `now`."""
        row = self._conn.execute(
            "SELECT kid, nonce, encrypted_private_key FROM signing_keys WHERE signs_from <= %s"
            " ORDER BY signs_from DESC LIMIT 1",
            (now,),
        ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]), bytes(row[2]))

    def pending(self, now: datetime) -> str | None:
        """The kid of a rotated key published but not signing yet, if there is one."""
        row = self._conn.execute(
            "SELECT kid FROM signing_keys WHERE signs_from > %s", (now,)
        ).fetchone()
        return None if row is None else str(row[0])

    def count(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM signing_keys").fetchone()
        return 0 if row is None else int(row[0])

    def has(self, kid: str) -> bool:
        return (
            self._conn.execute("SELECT 1 FROM signing_keys WHERE kid = %s", (kid,)).fetchone()
            is not None
        )

    def published(self, now: datetime) -> list[PublishedKey]:
        """The signing key and every retired key whose tokens may still be live."""
        rows = self._conn.execute(
            "SELECT kid, public_key_pem, created_at, signs_from, retired_at, published_until"
            " FROM signing_keys WHERE published_until IS NULL OR published_until > %s"
            " ORDER BY signs_from, kid",
            (now,),
        ).fetchall()
        return [PublishedKey(*row) for row in rows]

    def all(self) -> list[PublishedKey]:
        rows = self._conn.execute(
            "SELECT kid, public_key_pem, created_at, signs_from, retired_at, published_until"
            " FROM signing_keys ORDER BY signs_from, kid"
        ).fetchall()
        return [PublishedKey(*row) for row in rows]

"""SQL for endpoints' signing secrets: sealed on the way in, opened only to sign."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import dict_row

from paykit.db import Connection
from webhook_service.adapters.secret_sealing import Sealed, SecretSealer
from webhook_service.domain.endpoints import EndpointSecret, new_secret_id


class SecretRepository:
    def __init__(self, conn: Connection, sealer: SecretSealer) -> None:
        self._conn = conn
        self._sealer = sealer

    def add_secret(
        self, endpoint_id: str, secret: str, now: datetime, *, secret_id: str | None = None
    ) -> EndpointSecret:
        secret_id = secret_id or new_secret_id()
        sealed = self._sealer.seal(secret_id, secret)
        self._conn.execute(
            "INSERT INTO webhook_endpoint_secrets (id, endpoint_id, sealing, nonce, sealed,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (secret_id, endpoint_id, sealed.sealing, sealed.nonce, sealed.sealed, now),
        )
        return EndpointSecret(secret_id, secret, now, None)

    def expire_current_secret(self, endpoint_id: str, expires_at: datetime) -> None:
        self._conn.execute(
            "UPDATE webhook_endpoint_secrets SET expires_at = %s"
            " WHERE endpoint_id = %s AND expires_at IS NULL",
            (expires_at, endpoint_id),
        )

    def in_force(self, endpoint_id: str, secret_id: str, now: datetime) -> EndpointSecret | None:
        """One secret of the endpoint, if it still signs."""
        found = [s for s in self.secrets_in_force(endpoint_id, now) if s.id == secret_id]
        return found[0] if found else None

    def secrets_in_force(self, endpoint_id: str, now: datetime) -> list[EndpointSecret]:
        """The current secret first, then those still in their rotation overlap."""
        with self._conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT id, sealing, nonce, sealed, created_at, expires_at"
                " FROM webhook_endpoint_secrets"
                " WHERE endpoint_id = %s AND (expires_at IS NULL OR expires_at > %s)"
                " ORDER BY expires_at DESC NULLS FIRST, created_at DESC",
                (endpoint_id, now),
            ).fetchall()
        return [
            EndpointSecret(
                row["id"],
                self._sealer.open(row["id"], Sealed(row["sealing"], row["nonce"], row["sealed"])),
                row["created_at"],
                row["expires_at"],
            )
            for row in rows
        ]

    def prune_expired_secrets(self, endpoint_id: str, now: datetime) -> None:
        self._conn.execute(
            "DELETE FROM webhook_endpoint_secrets WHERE endpoint_id = %s AND expires_at <= %s",
            (endpoint_id, now),
        )

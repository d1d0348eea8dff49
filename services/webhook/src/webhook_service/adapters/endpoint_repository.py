"""SQL for merchants' endpoints, their secrets and their notices. Every read names the merchant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from psycopg.rows import dict_row

from paykit.db import Connection
from webhook_service.domain.endpoints import (
    ENDPOINT_DISABLED_NOTICE,
    DisabledEndpoint,
    DisabledReason,
    Endpoint,
    Notice,
    new_notice_id,
)

_COLUMNS: Final = (
    "id, merchant_id, url, description, event_types, enabled, disabled_reason, disabled_at,"
    " created_at, updated_at, last_success_at"
)


def _endpoint(row: dict[str, Any]) -> Endpoint:
    reason = row["disabled_reason"]
    return Endpoint(
        id=row["id"],
        merchant_id=row["merchant_id"],
        url=row["url"],
        description=row["description"],
        event_types=tuple(row["event_types"]),
        enabled=row["enabled"],
        disabled_reason=None if reason is None else DisabledReason(reason),
        disabled_at=row["disabled_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_success_at=row["last_success_at"],
    )


class EndpointRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[dict[str, Any]]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, params).fetchall()

    def save(self, endpoint: Endpoint) -> None:
        """Insert a new endpoint or write a changed one (never moving it to another merchant)."""
        self._conn.execute(
            f"INSERT INTO webhook_endpoints ({_COLUMNS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
            " description = EXCLUDED.description, event_types = EXCLUDED.event_types,"
            " enabled = EXCLUDED.enabled, disabled_reason = EXCLUDED.disabled_reason,"
            " disabled_at = EXCLUDED.disabled_at, updated_at = EXCLUDED.updated_at"
            " WHERE webhook_endpoints.merchant_id = EXCLUDED.merchant_id",
            (
                endpoint.id,
                endpoint.merchant_id,
                endpoint.url,
                endpoint.description,
                list(endpoint.event_types),
                endpoint.enabled,
                endpoint.disabled_reason,
                endpoint.disabled_at,
                endpoint.created_at,
                endpoint.updated_at,
                endpoint.last_success_at,
            ),
        )

    def get(
        self, merchant_id: str, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None:
        lock = " FOR UPDATE" if for_update else ""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE merchant_id = %s AND id = %s{lock}",
            (merchant_id, endpoint_id),
        )
        return _endpoint(rows[0]) if rows else None

    def of_merchant(
        self, merchant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Endpoint]:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE merchant_id = %(merchant)s"
            " AND (%(after_at)s::timestamptz IS NULL"
            "      OR (created_at, id) > (%(after_at)s, %(after_id)s))"
            " ORDER BY created_at, id LIMIT %(limit)s",
            {
                "merchant": merchant_id,
                "after_at": after[0] if after else None,
                "after_id": after[1] if after else None,
                "limit": limit,
            },
        )
        return [_endpoint(row) for row in rows]

    def subscribed(self, merchant_id: str, event_type: str) -> list[Endpoint]:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM webhook_endpoints"
            " WHERE merchant_id = %s AND %s = ANY (event_types)",
            (merchant_id, event_type),
        )
        return [_endpoint(row) for row in rows]

    def remove(self, merchant_id: str, endpoint_id: str) -> bool:
        cursor = self._conn.execute(
            "DELETE FROM webhook_endpoints WHERE merchant_id = %s AND id = %s",
            (merchant_id, endpoint_id),
        )
        return cursor.rowcount == 1

    # notices

    def disable_failing(
        self, endpoint_id: str, *, failing_since: datetime, now: datetime, detail: str
    ) -> DisabledEndpoint | None:
        """Disable an endpoint with no success since ``failing_since``; its notice says why.

        None when it is disabled already or answered meanwhile (another message got a 2xx).
        """
        rows = self._rows(
            "UPDATE webhook_endpoints SET enabled = false, disabled_reason = %s,"
            " disabled_at = %s, updated_at = %s WHERE id = %s AND enabled"
            " AND (last_success_at IS NULL OR last_success_at < %s) RETURNING merchant_id",
            (DisabledReason.FAILING, now, now, endpoint_id, failing_since),
        )
        if not rows:
            return None
        notice = Notice(new_notice_id(), endpoint_id, ENDPOINT_DISABLED_NOTICE, now, detail)
        self._conn.execute(
            "INSERT INTO webhook_endpoint_notices"
            " (id, endpoint_id, merchant_id, type, occurred_at, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (notice.id, endpoint_id, rows[0]["merchant_id"], notice.type, now, detail),
        )
        return DisabledEndpoint(rows[0]["merchant_id"], notice)

    def notices(self, endpoint_id: str, *, limit: int = 10) -> list[Notice]:
        rows = self._rows(
            "SELECT id, endpoint_id, type, occurred_at, detail FROM webhook_endpoint_notices"
            " WHERE endpoint_id = %s ORDER BY occurred_at DESC, id LIMIT %s",
            (endpoint_id, limit),
        )
        return [Notice(**row) for row in rows]

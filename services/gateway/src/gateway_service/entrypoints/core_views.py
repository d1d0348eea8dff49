"""How the gateway core's objects look on the wire: one function per object, no secret leaks.

A secret appears only in `issued_secret_view`, the answer to the request that created it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway_service.domain.credentials import IssuedSecret
from gateway_service.domain.signing_keys import PublishedKey


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def merchant_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": row["id"],
        "name": row["name"],
        "client_id": row["client_id"],
        "created_at": instant(row["created_at"]),
        "active_keys": row.get("active_keys"),
    }


def key_view(row: dict[str, Any], merchant_id: str) -> dict[str, Any]:
    return {
        "key_id": row["id"],
        "merchant_id": merchant_id,
        "prefix": row["prefix"],
        "status": "revoked" if row["revoked_at"] else "active",
        "created_at": instant(row["created_at"]),
        "last_used_at": instant(row["last_used_at"]),
        "revoked_at": instant(row["revoked_at"]),
    }


def issued_secret_view(issued: IssuedSecret, **extra: Any) -> dict[str, Any]:
    return {
        "merchant_id": issued.merchant_id,
        **extra,
        "key_id": issued.key_id,
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        "prefix": issued.prefix,
        "created_at": instant(issued.created_at),
    }


def signing_key_view(key: PublishedKey, now: datetime) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "status": key.status(now),
        "created_at": instant(key.created_at),
        "signs_from": instant(key.signs_from),
        "retired_at": instant(key.retired_at),
        "published_until": instant(key.published_until),
    }

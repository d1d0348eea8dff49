"""The API's RFC 3339 times, read once into aware datetimes for comparing and grouping by day."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime, or None for a missing or malformed value."""
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def shown(value: object) -> str:
    """A time as a person reads it on the page: ``2026-12-01 14:03:07 UTC``."""
    found = parse_time(value)
    return found.strftime("%Y-%m-%d %H:%M:%S UTC") if found else ""

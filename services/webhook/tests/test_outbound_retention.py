"""Outbound messages and their delivery log are pruned after their retention, pending ones never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from paykit.db import create_pool
from webhook_service.service_layer.retention import prune_finished_messages

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _message(
    conn: psycopg.Connection, endpoint: str, name: str, state: str, age: timedelta
) -> None:
    created = NOW - age
    conn.execute(
        "INSERT INTO webhook_messages (id, endpoint_id, event_id, event_type, payload, state,"
        " series_started_at, next_attempt_at, created_at)"
        " VALUES (%s, %s, %s, 'payment.succeeded', '{}', %s, %s, %s, %s)",
        (
            f"msg_{name}_{endpoint}",
            endpoint,
            f"evt_{name}",
            state,
            created,
            created if state == "pending" else None,
            created,
        ),
    )
    conn.execute(
        "INSERT INTO webhook_attempts (id, message_id, endpoint_id, event_type, number,"
        " started_at, outcome) VALUES (%s, %s, %s, 'payment.succeeded', 1, %s, 'failed')",
        (f"att_{name}_{endpoint}", f"msg_{name}_{endpoint}", endpoint, created),
    )


def test_finished_messages_past_retention_go_with_their_attempts_and_pending_ones_stay(
    webhook_database: str, unique: str
) -> None:
    endpoint = f"we_{unique}"
    with psycopg.connect(webhook_database) as conn:
        conn.execute(
            "INSERT INTO webhook_endpoints (id, merchant_id, url, event_types, created_at,"
            " updated_at) VALUES (%s, %s, 'https://example.com/', %s, %s, %s)",
            (endpoint, f"MER_{unique}", ["payment.succeeded"], NOW, NOW),
        )
        for name, state, age in [
            ("old_delivered", "delivered", timedelta(days=31)),
            ("old_failed", "failed", timedelta(days=40)),
            ("old_held", "held", timedelta(days=31)),
            ("old_pending", "pending", timedelta(days=45)),
            ("recent", "delivered", timedelta(days=29)),
        ]:
            _message(conn, endpoint, name, state, age)

    pool = create_pool(webhook_database, max_size=1)
    try:
        removed = prune_finished_messages(timedelta(days=30), pool, chunk_size=2)
    finally:
        pool.close()

    with psycopg.connect(webhook_database) as conn:
        left = conn.execute(
            "SELECT id FROM webhook_messages WHERE endpoint_id = %s ORDER BY id", (endpoint,)
        ).fetchall()
        attempts = conn.execute(
            "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = %s", (endpoint,)
        ).fetchone()
    assert removed >= 3
    assert [row[0] for row in left] == [f"msg_old_pending_{endpoint}", f"msg_recent_{endpoint}"]
    assert attempts == (2,)

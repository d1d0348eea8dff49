"""The delivery log's migrations on a real database, including rows written before them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from paykit.migrations import migrate
from paykit.testing import scratch_database

pytestmark = pytest.mark.integration

_INSERT = """
INSERT INTO webhook_deliveries (id, received_at, verdict, reason, request_id, headers, body,
                                body_size, signed_at, psp_event_id, psp_event_type, payment_id,
                                status, event_id_derived, event_id, event_type, event_value)
VALUES (%(id)s, %(at)s, %(verdict)s, %(reason)s, 'req', %(headers)s, %(body)s, %(size)s,
        %(signed_at)s, %(evt)s, %(evt_type)s, %(payment)s, %(status)s, %(derived)s,
        %(evt)s, %(evt_type)s, %(value)s)
"""


def test_forged_deliveries_kept_whole_before_are_bounded_by_the_migration(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    sources = migration_sources("webhook")
    assert sources is not None
    first_only = tmp_path / "migrations"
    first_only.mkdir()
    shutil.copy(sources["webhook"] / "0001_webhook_deliveries.sql", first_only)
    headers = {"cookie": "session=s3cr3t", "user-agent": "probe", "x-thing": "y"}
    forged_body, genuine_body = b"f" * 5000, b"{" + b" " * 5000 + b"}"
    now = datetime.now(UTC)

    with scratch_database(
        cluster.admin_url, {"kit": sources["kit"], "webhook": first_only}, prefix="webhook_mig"
    ) as url:
        with psycopg.connect(url) as conn:
            conn.execute(_INSERT, _row("dlv_forged", now, headers, forged_body, signed=False))
            conn.execute(_INSERT, _row("dlv_genuine", now, headers, genuine_body, signed=True))
        migrate(url, sources)

        with psycopg.connect(url) as conn:
            rows = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT id, body, body_size, body_sha256, headers FROM webhook_deliveries"
                )
            }
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(_INSERT, _row("dlv_new", now, {}, forged_body, signed=False))

    body, size, sha256, kept_headers = rows["dlv_forged"]
    assert (bytes(body), size) == (forged_body[:1024], 5000)
    assert sha256 is not None and len(sha256) == 64
    assert kept_headers == {"user-agent": "probe"}
    body, _, _, kept_headers = rows["dlv_genuine"]
    assert (bytes(body), kept_headers) == (genuine_body, headers)


def _row(
    delivery_id: str, at: datetime, headers: dict[str, str], body: bytes, *, signed: bool
) -> dict[str, object]:
    return {
        "id": delivery_id,
        "at": at,
        "verdict": "accepted" if signed else "rejected",
        "reason": None if signed else "invalid_signature",
        "headers": Jsonb(headers),
        "body": body,
        "size": len(body),
        "signed_at": at if signed else None,
        "evt": f"evt_{delivery_id}" if signed else None,
        "evt_type": "payment.status" if signed else None,
        "payment": "PAY_1" if signed else None,
        "status": "succeeded" if signed else None,
        "derived": False if signed else None,
        "value": b"{}" if signed else None,
    }

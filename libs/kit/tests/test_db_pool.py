"""The pool's checkout check: a connection that has sat idle is pinged and replaced when it is
dead; one that has just come back is handed out without that round trip."""

from __future__ import annotations

import time

import psycopg
import pytest

from paykit.db import create_pool
from paykit.testing import wait_until

pytestmark = pytest.mark.integration


def _backend_pid(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return row[0]


def _cut(kit_db: str, pid: int) -> None:
    """Terminate the backend as a database restart would, and wait until it is gone."""
    with psycopg.connect(kit_db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        gone = wait_until(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                == (0,)
            ),
            timeout=5,
        )
    assert gone, f"backend {pid} still running"


def test_a_connection_cut_while_idle_is_replaced_before_it_is_handed_out(kit_db: str) -> None:
    pool = create_pool(kit_db, min_size=1, max_size=1, name="idle-cut", idle_before_ping=0.05)
    pool.wait()
    try:
        with pool.connection() as conn:
            first = _backend_pid(conn)
        returned = time.monotonic()
        _cut(kit_db, first)
        idle = wait_until(lambda: time.monotonic() - returned > 0.1, timeout=2, interval=0.01)
        assert idle  # back in the pool for longer than its threshold: the ping is due

        with pool.connection() as conn:
            replacement = _backend_pid(conn)
    finally:
        pool.close()

    assert replacement != first


def test_a_connection_just_returned_is_handed_out_unpinged_and_replaced_once_it_fails(
    kit_db: str,
) -> None:
    pool = create_pool(kit_db, min_size=1, max_size=1, name="busy-cut", idle_before_ping=60)
    pool.wait()
    try:
        with pool.connection() as conn:
            first = _backend_pid(conn)
        _cut(kit_db, first)

        with pytest.raises(psycopg.OperationalError), pool.connection() as conn:
            _backend_pid(conn)  # not pinged: the cut shows in the caller's own statement
        with pool.connection() as conn:
            replacement = _backend_pid(conn)
    finally:
        pool.close()

    assert replacement != first

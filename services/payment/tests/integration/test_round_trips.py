"""What a create costs in database round trips, counted from libpq's own protocol trace.

Each round trip ends with the server's ReadyForQuery (after a simple query or a Sync) or, in
pipeline mode, with the answer to a flush the client waits on; the trace counts both kinds of
wait as the client sees them: every time the client sent something and then read an answer.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import pq
from psycopg_pool import ConnectionPool

from paykit.db import create_pool
from payment_service.adapters.unit_of_work import pooled_transactions
from payment_service.domain.idempotency import RequestFingerprint, StoredResponse
from payment_service.service_layer import payments
from payment_service.service_layer.commands import CreatePayment
from payment_service.service_layer.idempotency import run_once
from payment_service.service_layer.unit_of_work import UnitOfWork

pytestmark = pytest.mark.integration

BODY = {"amount": 1500, "currency": "EUR", "payment_method": "pm_card_visa"}


def _round_trips(trace: str) -> int:
    """Turns from sending to receiving: a frontend message followed by a backend one."""
    turns, last = 0, ""
    for line in trace.splitlines():
        direction = line.split("\t", 1)[0]
        if direction == "B" and last == "F":
            turns += 1
        if direction in ("B", "F"):
            last = direction
    return turns


@contextmanager
def traced(pool: ConnectionPool) -> Iterator[list[str]]:
    """libpq's trace of the pool's one connection while the block runs."""
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+") as sink:
        with pool.connection() as conn:
            conn.pgconn.trace(sink.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield captured
        finally:
            with pool.connection() as conn:
                conn.pgconn.untrace()
            sink.flush()
            os.fsync(sink.fileno())
            sink.seek(0)
            captured.append(sink.read())


def _create(pool: ConnectionPool, key: str) -> bool:
    transactions = pooled_transactions(pool)
    command = CreatePayment(merchant_id="MER_roundtrips", **BODY)

    def create(uow: UnitOfWork) -> dict[str, object]:
        payment = payments.create_payment(
            command, uow, now=datetime.now(UTC), charge_within=timedelta(minutes=1)
        )
        return {"id": payment.id}

    result = run_once(
        transactions,
        merchant_id="MER_roundtrips",
        key=key,
        request=RequestFingerprint("POST", "/payments", BODY),
        action=create,
    )
    return result.replayed


@pytest.fixture
def one_connection(payment_db: str) -> Iterator[ConnectionPool]:
    pool = create_pool(payment_db, min_size=1, max_size=1, name="round-trips")
    pool.wait()
    yield pool
    pool.close()


def test_a_create_costs_three_round_trips_on_a_connection_in_use(
    one_connection: ConnectionPool, unique: str
) -> None:
    _create(one_connection, f"{unique}-warm")  # the connection has just been used

    with traced(one_connection) as trace:
        replayed = _create(one_connection, unique)

    assert not replayed
    # BEGIN to the claim's answer; the payment's INSERT (created_at read back); the outbox row,
    # the stored response and COMMIT. Eleven before the create went through one pipeline.
    assert _round_trips(trace[0]) == 3, trace[0]


def test_a_replay_reads_the_stored_response_and_writes_nothing(
    one_connection: ConnectionPool, unique: str
) -> None:
    _create(one_connection, unique)

    with traced(one_connection) as trace:
        replayed = _create(one_connection, unique)

    assert replayed
    assert "INSERT INTO payments" not in trace[0]
    assert "INSERT INTO outbox" not in trace[0]
    assert _round_trips(trace[0]) <= 3, trace[0]


def test_an_error_in_a_statement_sent_ahead_rolls_back_everything_before_it(
    one_connection: ConnectionPool, unique: str
) -> None:
    transactions = pooled_transactions(one_connection)

    with pytest.raises(psycopg.errors.IntegrityError), transactions() as uow:
        uow.idempotency.complete("MER_roundtrips", unique, StoredResponse(201, {}))
        conn = uow.idempotency.conn  # type: ignore[attr-defined]
        conn.execute(
            "INSERT INTO idempotency_keys (merchant_id, key, fingerprint) VALUES (%s, %s, 'fp')",
            ("MER_roundtrips", unique),
        )
        conn.execute("INSERT INTO payments (id, merchant_id, amount) VALUES ('x', 'MER_x', -1)")
        # nothing above was read back: the errors surface with the COMMIT's answer

    with one_connection.connection() as conn:
        kept = conn.execute(
            "SELECT count(*) FROM idempotency_keys WHERE key = %s", (unique,)
        ).fetchone()
        assert conn.autocommit is False  # the pool's connection is handed back as it was lent
    assert kept == (0,)

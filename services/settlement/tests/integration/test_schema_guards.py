"""The settlement database refuses what must never happen, whatever the Python does."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import errors

pytestmark = pytest.mark.integration

CUTOFF = datetime(2026, 3, 1, tzinfo=UTC)


def _item(conn: psycopg.Connection, merchant: str, net: int = 9_835) -> str:
    item_id = f"sit_{uuid.uuid4().hex}"
    conn.execute(
        "INSERT INTO settlement_items (id, ledger_transaction_id, source_event_id, merchant_id,"
        " currency, kind, payment_id, gross_amount, fee_amount, net_amount, effective_at)"
        " VALUES (%s, %s, 'evt_1', %s, 'EUR', 'payment', 'PAY_1', %s, %s, %s, %s)",
        (item_id, f"ltx_{uuid.uuid4().hex}", merchant, 10_000, 10_000 - net, net, CUTOFF),
    )
    return item_id


def _open_batch(conn: psycopg.Connection, merchant: str) -> str:
    batch_id = f"stb_{uuid.uuid4().hex}"
    conn.execute(
        "INSERT INTO settlement_runs (cutoff, eligible_before, triggered_by)"
        " VALUES (%s, %s, 'admin') ON CONFLICT DO NOTHING",
        (CUTOFF, CUTOFF),
    )
    conn.execute(
        "INSERT INTO settlement_batches (id, merchant_id, currency, opened_cutoff)"
        " VALUES (%s, %s, 'EUR', %s)",
        (batch_id, merchant, CUTOFF),
    )
    return batch_id


def test_an_illegal_batch_transition_is_refused_by_the_database(
    fresh_database: Callable[[], str], merchant: str
) -> None:
    with psycopg.connect(fresh_database(), autocommit=True) as conn:
        batch_id = _open_batch(conn, merchant)

        with pytest.raises(errors.CheckViolation, match="illegal settlement batch transition"):
            conn.execute("UPDATE settlement_batches SET status = 'paid' WHERE id = %s", (batch_id,))

        history = conn.execute(
            "SELECT from_status, to_status FROM settlement_batch_history WHERE batch_id = %s",
            (batch_id,),
        ).fetchall()
    assert history == [(None, "open")]


def test_an_item_is_in_at_most_one_batch(fresh_database: Callable[[], str], merchant: str) -> None:
    with psycopg.connect(fresh_database(), autocommit=True) as conn:
        item_id = _item(conn, merchant)
        first = _open_batch(conn, merchant)
        conn.execute(
            "INSERT INTO settlement_batch_items (batch_id, item_id, merchant_id, currency)"
            " VALUES (%s, %s, %s, 'EUR')",
            (first, item_id, merchant),
        )
        with pytest.raises(errors.UniqueViolation):
            conn.execute(
                "INSERT INTO settlement_batch_items (batch_id, item_id, merchant_id, currency)"
                " VALUES (%s, %s, %s, 'EUR')",
                (_open_batch_after_closing(conn, first, merchant), item_id, merchant),
            )


def _open_batch_after_closing(conn: psycopg.Connection, batch_id: str, merchant: str) -> str:
    conn.execute(
        "UPDATE settlement_batches SET status = 'closed', closed_cutoff = opened_cutoff,"
        " item_count = 1, gross_amount = 10000, fee_amount = 165, net_amount = 9835,"
        " period_start = %s, period_end = %s + interval '1 day' WHERE id = %s",
        (CUTOFF, CUTOFF, batch_id),
    )
    return _open_batch(conn, merchant)


def test_a_payout_attempt_of_a_batch_the_ledger_has_not_moved_is_refused(
    fresh_database: Callable[[], str], merchant: str
) -> None:
    with psycopg.connect(fresh_database(), autocommit=True) as conn:
        batch_id = _open_batch(conn, merchant)
        _open_batch_after_closing(conn, batch_id, merchant)

        with pytest.raises(
            errors.CheckViolation, match="settlement_batches_paid_out_after_the_ledger"
        ):
            conn.execute("UPDATE settlement_batches SET attempt = 1 WHERE id = %s", (batch_id,))
        conn.execute(
            "UPDATE settlement_batches SET ledger_moved_at = now() WHERE id = %s", (batch_id,)
        )
        conn.execute("UPDATE settlement_batches SET attempt = 1 WHERE id = %s", (batch_id,))


def test_an_item_of_another_currency_is_refused(
    fresh_database: Callable[[], str], merchant: str
) -> None:
    with psycopg.connect(fresh_database(), autocommit=True) as conn:
        item_id = _item(conn, merchant)
        batch_id = _open_batch(conn, merchant)
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO settlement_batch_items (batch_id, item_id, merchant_id, currency)"
                " VALUES (%s, %s, %s, 'USD')",
                (batch_id, item_id, merchant),
            )


def test_a_batch_is_never_paid_twice(fresh_database: Callable[[], str], merchant: str) -> None:
    with psycopg.connect(fresh_database(), autocommit=True) as conn:
        batch_id = _open_batch(conn, merchant)
        for attempt in (1, 2):
            with pytest.raises(errors.UniqueViolation) if attempt == 2 else _nothing():
                conn.execute(
                    "INSERT INTO settlement_payouts (batch_id, attempt, merchant_id, currency,"
                    " amount, bank_account, status, bank_payout_id, completed_at)"
                    " VALUES (%s, %s, %s, 'EUR', 9835, 'acct_success', 'paid', %s, now())",
                    (batch_id, attempt, merchant, f"po_{attempt}_{batch_id}"),
                )


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

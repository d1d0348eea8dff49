"""Closing batches at a cutoff: per merchant and currency, once, under concurrency too."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from payevents import Envelope
from settlement_service.domain.configuration import MinimumPayouts
from settlement_service.domain.errors import CutoffInFuture
from settlement_service.service_layer.batching import RunResult, close_batches
from settlement_service.service_layer.itemizing import itemize

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HOLDING = timedelta(days=2)


def _run(url: str, cutoff: datetime, minimums: MinimumPayouts | None = None) -> RunResult:
    with psycopg.connect(url) as conn:
        return close_batches(
            conn,
            cutoff,
            now=NOW,
            holding_period=HOLDING,
            minimums=minimums or MinimumPayouts(),
            triggered_by="admin",
        )


def _itemize(url: str, *postings: Envelope) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        for envelope in postings:
            itemize(conn, envelope)


def _instant(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _batch_of(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT item_id, batch_id FROM settlement_batch_items").fetchall()
    found: dict[str, list[str]] = {}
    for item_id, batch_id in rows:
        found.setdefault(item_id, []).append(batch_id)
    return found


def test_a_run_closes_one_batch_per_merchant_and_currency_after_the_holding_period(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url = fresh_database()
    old = NOW - timedelta(days=5)
    a, b = f"MER_a{uuid.uuid4().hex[:8]}", f"MER_b{uuid.uuid4().hex[:8]}"
    _itemize(
        url,
        posting(a, "payment", 10_000, 165, effective_at=old),
        posting(a, "payment", 5_000, 95, effective_at=old),
        posting(a, "refund", 3_000, effective_at=old),
        posting(a, "payment", 2_000, 20, currency="USD", effective_at=old),
        posting(b, "payment", 1_000, 10, effective_at=old),
        posting(a, "payment", 7_000, 70, effective_at=NOW - timedelta(days=1)),  # still held
    )

    result = _run(url, NOW)

    totals = {
        (row["merchant_id"], row["currency"]): (
            row["item_count"],
            row["gross_amount"],
            row["refunded_amount"],
            row["fee_amount"],
            row["net_amount"],
            row["status"],
        )
        for row in result.closed
    }
    assert totals == {
        (a, "EUR"): (3, 15_000, 3_000, 260, 11_740, "closed"),
        (a, "USD"): (1, 2_000, 0, 20, 1_980, "closed"),
        (b, "EUR"): (1, 1_000, 0, 10, 990, "closed"),
    }
    closed = [e for e in outbox_events(url) if e.type == "settlement.batch_closed"]
    assert sorted(e.data["net_amount"] for e in closed) == [990, 1_980, 11_740]
    assert {_instant(e.data["period_end"]) for e in closed} == {NOW - HOLDING}


def test_the_same_cutoff_again_returns_the_same_batches_and_changes_nothing(
    fresh_database: Callable[[], str], posting: Callable[..., Envelope], merchant: str
) -> None:
    url = fresh_database()
    _itemize(url, posting(merchant, effective_at=NOW - timedelta(days=3)))
    first = _run(url, NOW)
    _itemize(url, posting(merchant, effective_at=NOW - timedelta(days=3)))  # late arrival

    again = _run(url, NOW)

    assert again.replayed
    assert [b["id"] for b in again.closed] == [b["id"] for b in first.closed]
    assert again.closed[0]["item_count"] == 1


def test_a_cutoff_in_the_future_is_refused(fresh_database: Callable[[], str]) -> None:
    with pytest.raises(CutoffInFuture):
        _run(fresh_database(), NOW + timedelta(seconds=1))


def test_a_negative_net_is_carried_forward_and_netted_by_the_next_closing(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url = fresh_database()
    _itemize(url, posting(merchant, "refund", 2_000, effective_at=NOW - timedelta(days=9)))
    first = _run(url, NOW - timedelta(days=5))
    _itemize(url, posting(merchant, "payment", 8_000, 137, effective_at=NOW - timedelta(days=4)))

    second = _run(url, NOW)

    assert first.closed == []
    assert [(b["net_amount"], b["carried_forward_reason"]) for b in first.carried_forward] == [
        (-2_000, "not_positive")
    ]
    assert [(b["id"], b["item_count"], b["net_amount"]) for b in second.closed] == [
        (first.carried_forward[0]["id"], 2, 8_000 - 137 - 2_000)
    ]
    types = [e.type for e in outbox_events(url) if e.type.startswith("settlement.batch")]
    assert types == ["settlement.batch_carried_forward", "settlement.batch_closed"]


def test_a_net_below_the_minimum_payout_stays_open(
    fresh_database: Callable[[], str], posting: Callable[..., Envelope], merchant: str
) -> None:
    url = fresh_database()
    _itemize(url, posting(merchant, "payment", 500, 32, effective_at=NOW - timedelta(days=3)))

    result = _run(url, NOW, MinimumPayouts({"EUR": 1_000}))

    assert result.closed == []
    assert result.carried_forward[0]["carried_forward_reason"] == "below_minimum"
    assert result.carried_forward[0]["status"] == "open"


def test_two_closers_at_once_create_each_batch_once(
    fresh_database: Callable[[], str], posting: Callable[..., Envelope]
) -> None:
    url = fresh_database()
    merchants = [f"MER_{uuid.uuid4().hex[:10]}" for _ in range(20)]
    _itemize(url, *(posting(m, effective_at=NOW - timedelta(days=3)) for m in merchants))
    results: list[RunResult] = []
    start = threading.Barrier(2)

    def closer() -> None:
        start.wait()
        results.append(_run(url, NOW))

    threads = [threading.Thread(target=closer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(r.replayed for r in results) == [False, True]
    assert [b["id"] for b in results[0].closed] == [b["id"] for b in results[1].closed]
    with psycopg.connect(url) as conn:
        batches = conn.execute("SELECT merchant_id FROM settlement_batches").fetchall()
    assert sorted(m for (m,) in batches) == sorted(merchants)


def test_a_capture_landing_while_its_batch_closes_ends_in_exactly_one_batch(
    fresh_database: Callable[[], str], posting: Callable[..., Envelope], merchant: str
) -> None:
    url = fresh_database()
    _itemize(url, posting(merchant, effective_at=NOW - timedelta(days=4)))
    landing = posting(merchant, effective_at=NOW - timedelta(days=3))
    with psycopg.connect(url) as itemizer_conn:
        with itemizer_conn.transaction():
            itemize(itemizer_conn, landing)  # not committed while the batch closes
            closing = _run(url, NOW - timedelta(hours=1))
        later = _run(url, NOW)

    batches = _batch_of(url)
    assert len(batches) == 2
    assert all(len(found) == 1 for found in batches.values())
    assert closing.closed[0]["item_count"] == 1
    assert later.closed[0]["item_count"] == 1


def test_items_arriving_during_many_runs_each_end_in_exactly_one_batch(
    fresh_database: Callable[[], str], posting: Callable[..., Envelope], merchant: str
) -> None:
    url = fresh_database()
    stop = threading.Event()

    def arrive() -> None:
        while not stop.is_set():
            _itemize(url, posting(merchant, effective_at=NOW - timedelta(days=3)))

    arriving = threading.Thread(target=arrive)
    arriving.start()
    try:
        for minute in range(30):
            _run(url, NOW - timedelta(minutes=60 - minute))
    finally:
        stop.set()
        arriving.join(timeout=30)
    _run(url, NOW)

    with psycopg.connect(url) as conn:
        (items,) = conn.execute("SELECT count(*) FROM settlement_items").fetchone() or (0,)
    batches = _batch_of(url)
    assert len(batches) == items
    assert all(len(found) == 1 for found in batches.values())


def test_a_batch_of_a_payment_and_its_reversal_nets_zero_and_is_carried_forward_not_paid(
    fresh_database: Callable[[], str],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url = fresh_database()
    payment = posting(merchant, "payment", 10_000, 165, effective_at=NOW - timedelta(days=4))
    reversal = posting(
        merchant,
        "payment_reversal",
        10_000,
        165,
        payment_id=payment.data["payment_id"],
        effective_at=NOW - timedelta(days=3),
    )
    _itemize(url, payment, reversal)

    result = _run(url, NOW)

    assert result.closed == []
    [carried] = result.carried_forward
    assert (carried["item_count"], carried["net_amount"], carried["carried_forward_reason"]) == (
        2,
        0,
        "not_positive",
    )
    assert (carried["reversed_amount"], carried["fee_returned_amount"]) == (10_000, 165)
    [event] = [e for e in outbox_events(url) if e.type.startswith("settlement.batch")]
    assert (event.type, event.version, event.data["net_amount"]) == (
        "settlement.batch_carried_forward",
        2,
        0,
    )

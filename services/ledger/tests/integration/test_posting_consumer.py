"""The poster on real Kafka and PostgreSQL: each event posted once, whatever is redelivered or
killed; an event that cannot post goes to the DLQ with its reason and leaves nothing behind."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from ledger_service.domain import accounts
from ledger_service.service_layer.verification import verify
from payevents import Envelope
from payevents.topics import Topic
from paykit.testing import running, wait_until

pytestmark = pytest.mark.integration

COUNT_POSTED = "SELECT count(*) FROM ledger_transactions WHERE merchant_id = %s"
BALANCE = (
    "SELECT coalesce(sum(b.balance), 0) FROM ledger_accounts a"
    " JOIN ledger_balances b ON b.account_id = a.id WHERE a.code = %s AND a.currency = 'EUR'"
)


def _one(rows: list[tuple[Any, ...]]) -> Any:
    [(value,)] = rows
    return value


def test_the_same_event_twice_is_posted_once(
    fresh_ledger: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    poster_on: Callable[..., Any],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
    ledger_rows: Callable[..., list[tuple[Any, ...]]],
    merchant: str,
) -> None:
    ledger = fresh_ledger()
    paid = event("payment.succeeded", payment_facts(amount=10_000))
    publish(topic, paid)
    publish(topic, paid)
    with running(poster_on(ledger, topic)):
        assert wait_until(lambda: _one(ledger_rows(ledger, COUNT_POSTED, merchant)) == 1)
        publish(topic, paid)  # and once more, after it was committed
        later = event("payment.succeeded", payment_facts(amount=500))
        publish(topic, later)
        assert wait_until(lambda: _one(ledger_rows(ledger, COUNT_POSTED, merchant)) == 2)
    fee = (10_000 * 140 + 5000) // 10000 + 25 + (500 * 140 + 5000) // 10000 + 25
    assert _one(ledger_rows(ledger, BALANCE, accounts.escrow(merchant))) == 10_500 - fee
    assert _one(ledger_rows(ledger, "SELECT count(*) FROM ledger_source_events")) == 2


def test_a_poster_killed_between_db_commit_and_offset_commit_posts_each_event_once(
    fresh_ledger: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    start_poster: Callable[..., Any],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
    ledger_rows: Callable[..., list[tuple[Any, ...]]],
    merchant: str,
) -> None:
    ledger = fresh_ledger()
    payments = [event("payment.succeeded", payment_facts(amount=1000 + n)) for n in range(20)]
    for paid in payments:
        publish(topic, paid)
    dying = start_poster(ledger, topic, "--die-after-db-commit")
    output, _ = dying.communicate(timeout=60)
    assert dying.returncode == -signal.SIGKILL, output
    posted_before_restart = _one(ledger_rows(ledger, COUNT_POSTED, merchant))
    assert posted_before_restart > 0

    survivor = start_poster(ledger, topic)
    try:
        assert wait_until(lambda: _one(ledger_rows(ledger, COUNT_POSTED, merchant)) == 20, 60)
        # the redelivered batch found its inbox rows: nothing more arrives
        assert not wait_until(
            lambda: _one(ledger_rows(ledger, COUNT_POSTED, merchant)) > 20, timeout=2
        )
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.communicate(timeout=60)
    references = ledger_rows(ledger, "SELECT reference FROM ledger_transactions")
    assert sorted(r for (r,) in references) == sorted(p.id for p in payments)
    held = _one(ledger_rows(ledger, BALANCE, accounts.PSP_CLEARING))
    assert held == sum(1000 + n for n in range(20))


def test_an_event_that_cannot_post_goes_to_the_dlq_and_posts_nothing(
    fresh_ledger: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    poster_on: Callable[..., Any],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
    ledger_rows: Callable[..., list[tuple[Any, ...]]],
    dead_letters: Callable[[Topic], list[Any]],
    merchant: str,
) -> None:
    ledger = fresh_ledger()
    before = event("payment.succeeded", payment_facts(amount=2000))
    # a payout of a batch the ledger never moved to payable: payable would go negative
    impossible = event(
        "settlement.batch_paid",
        {
            "batch_id": "bat_1",
            "merchant_id": merchant,
            "currency": "EUR",
            "amount": 1500,
            "payout_id": "po_1",
            "attempt": 1,
        },
    )
    after = event("payment.succeeded", payment_facts(amount=3000))
    for envelope in (before, impossible, after):
        publish(topic, envelope)
    with running(poster_on(ledger, topic)):
        assert wait_until(lambda: len(dead_letters(topic)) == 1, timeout=30)
        assert wait_until(lambda: _one(ledger_rows(ledger, COUNT_POSTED, merchant)) == 2)
    [letter] = dead_letters(topic)
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["x-dlq-reason"] == "invalid"
    assert "payable holds 0" in headers["x-error-message"]
    assert (
        ledger_rows(ledger, "SELECT reference FROM ledger_transactions WHERE kind = 'payout'") == []
    )
    assert _one(ledger_rows(ledger, BALANCE, accounts.payable(merchant))) == 0
    assert len(ledger_rows(ledger, "SELECT 1 FROM ledger_entries")) == 6


@pytest.mark.parametrize("merchants", [1, 25], ids=["one merchant", "25 merchants"])
def test_three_posters_at_once_keep_balances_exact_and_deadlock_free(
    fresh_ledger: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    start_poster: Callable[..., Any],
    event: Callable[..., Envelope],
    payment_facts: Callable[..., dict[str, Any]],
    ledger_rows: Callable[..., list[tuple[Any, ...]]],
    dead_letters: Callable[[Topic], list[Any]],
    merchant: str,
    merchants: int,
) -> None:
    """Every batch touches the hot platform accounts; with 25 merchants, two batches also touch
    merchants in opposite orders (which deadlocked while balances were locked per entry)."""
    ledger = fresh_ledger()
    names = [merchant] + [f"{merchant}_{n}" for n in range(1, merchants)]
    posters = [start_poster(ledger, topic, "--batch", "50") for _ in range(3)]
    expected_escrow = dict.fromkeys(names, 0)
    expected_clearing = 0
    events = []
    for n in range(300):
        facts = payment_facts(amount=1000 + n, merchant_id=names[n % merchants])
        fee = (facts["amount"] * 140 + 5000) // 10000 + 25
        events.append(event("payment.succeeded", facts))
        expected_clearing += facts["amount"]
        expected_escrow[facts["merchant_id"]] += facts["amount"] - fee
        if n % 3 == 0:  # a refund of part of every third payment, on the payment's partition
            refund = {**facts, "refund_id": f"ref_{facts['payment_id']}", "amount": 400}
            events.append(event("refund.succeeded", refund))
            expected_clearing -= 400
            expected_escrow[facts["merchant_id"]] -= 400
    for envelope in events:
        publish(topic, envelope)
    try:
        assert wait_until(
            lambda: _one(ledger_rows(ledger, "SELECT count(*) FROM ledger_seals")) == len(events),
            timeout=120,
        )
    finally:
        for process in posters:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=60)[0] for process in posters]
    for name in names:
        assert _one(ledger_rows(ledger, BALANCE, accounts.escrow(name))) == expected_escrow[name]
    assert _one(ledger_rows(ledger, BALANCE, accounts.PSP_CLEARING)) == expected_clearing
    assert dead_letters(topic) == []
    assert all("stopped cleanly" in output for output in outputs), outputs
    assert not any("deadlock" in output.lower() for output in outputs)
    with psycopg.connect(ledger) as conn, conn.transaction():
        assert verify(conn).ok

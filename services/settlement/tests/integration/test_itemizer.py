"""The itemizer turns posted payments, refunds and reversals into items, each exactly once, and
records the ledger's closing of a batch (escrow to payable), which lets the batch be paid out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope
from payevents.envelope import new_event_id
from payevents.topics import Topic
from paykit.consumer import Consumer
from paykit.testing import read_topic, running, wait_until
from settlement_service.domain.configuration import MinimumPayouts
from settlement_service.entrypoints.consumers import itemizer
from settlement_service.service_layer.batching import close_batches
from settlement_service.service_layer.itemizing import itemize

pytestmark = pytest.mark.integration


def _rows(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_payments_and_refunds_become_items_once(
    fresh_database: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url = fresh_database()
    payment = posting(merchant, "payment", 10_000, 165)
    refund = posting(merchant, "refund", 3_000)
    reannounced = replace(payment, id=new_event_id())  # same ledger transaction, new event id
    settlement = posting(merchant, "payment", 5_000, 95)  # a batch's closing: no item
    settlement = replace(
        settlement,
        data={**settlement.data, "kind": "settlement", "settlement_batch_id": "stb_elsewhere"},
    )

    with running(consumer_on(url, topic, itemizer())):
        for envelope in (payment, refund, payment, reannounced, settlement):
            publish(topic, envelope)
        assert wait_until(lambda: len(_rows(url, "SELECT 1 FROM inbox")) == 4, timeout=30), (
            "the consumer did not take in every distinct event"
        )

    items = _rows(
        url,
        "SELECT kind, gross_amount, fee_amount, net_amount, ledger_transaction_id"
        " FROM settlement_items ORDER BY kind",
    )
    assert items == [
        ("payment", 10_000, 165, 9_835, payment.data["transaction_id"]),
        ("refund", 3_000, 0, -3_000, refund.data["transaction_id"]),
    ]
    announced = outbox_events(url)
    assert [e.type for e in announced] == ["settlement.item_created"] * 2
    assert {e.data["item_id"] for e in announced} == set(
        r[0] for r in _rows(url, "SELECT id FROM settlement_items")
    )


def test_a_reversal_posting_becomes_one_reversal_item(
    fresh_database: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    posting: Callable[..., Envelope],
    merchant: str,
    outbox_events: Callable[[str], list[Envelope]],
) -> None:
    url = fresh_database()
    payment = posting(merchant, "payment", 10_000, 165)
    reversal = posting(
        merchant, "payment_reversal", 10_000, 165, payment_id=payment.data["payment_id"]
    )
    reannounced = replace(reversal, id=new_event_id())

    with running(consumer_on(url, topic, itemizer())):
        for envelope in (payment, reversal, reversal, reannounced):
            publish(topic, envelope)
        assert wait_until(lambda: len(_rows(url, "SELECT 1 FROM inbox")) == 3, timeout=30), (
            "the consumer did not take in every distinct event"
        )

    assert _rows(
        url,
        "SELECT kind, payment_id, gross_amount, fee_amount, net_amount, ledger_transaction_id"
        " FROM settlement_items WHERE kind = 'reversal'",
    ) == [
        (
            "reversal",
            payment.data["payment_id"],
            10_000,
            165,
            -9_835,
            reversal.data["transaction_id"],
        )
    ]
    announced = [e for e in outbox_events(url) if e.data["kind"] == "reversal"]
    assert [(e.version, e.data["amount"], e.data["fee_amount"]) for e in announced] == [
        (2, 10_000, 165)
    ]


def test_the_ledgers_closing_of_a_batch_is_recorded_once_and_only_for_that_batch(
    cluster: ClusterEnv,
    fresh_database: Callable[[], str],
    topic: Topic,
    publish: Callable[[Topic, Envelope], None],
    consumer_on: Callable[..., Consumer],
    posting: Callable[..., Envelope],
    closing_posted: Callable[..., Envelope],
    merchant: str,
) -> None:
    """A retry's move changes nothing, a batch of another producer is logged and ignored, a
    posting that contradicts the batch is dead-lettered with the reason, and the closing's move
    is recorded once however often it is announced."""
    url = fresh_database()
    with psycopg.connect(url) as conn, conn.transaction():
        itemize(conn, posting(merchant, effective_at=datetime.now(UTC) - timedelta(hours=1)))
    with psycopg.connect(url) as conn:
        [batch] = close_batches(
            conn,
            datetime.now(UTC),
            now=datetime.now(UTC),
            holding_period=timedelta(0),
            minimums=MinimumPayouts(),
            triggered_by="admin",
        ).closed
    closing = closing_posted(batch)
    dlq = topic.dlq_topic(topic.consumers[0].name)

    def moved_at() -> list[tuple[object, ...]]:
        return _rows(
            url, "SELECT ledger_moved_at FROM settlement_batches WHERE id = %s", batch["id"]
        )

    with running(consumer_on(url, topic, itemizer())):
        for envelope in (
            closing_posted(batch, cause_type="settlement.batch_submitted"),  # a retry's move
            closing_posted({**batch, "id": "stb_of_another_producer"}),
            closing_posted(batch, amount=batch["net_amount"] + 1),
        ):
            publish(topic, envelope)
        assert wait_until(lambda: len(read_topic(cluster.bootstrap_servers, dlq)) == 1, timeout=30)
        assert wait_until(lambda: len(_rows(url, "SELECT 1 FROM inbox")) == 2, timeout=30)
        before = moved_at()
        publish(topic, closing)
        assert wait_until(lambda: moved_at() != [(None,)], timeout=30)
        first = moved_at()
        publish(topic, replace(closing, id=new_event_id()))  # announced again
        assert wait_until(lambda: len(_rows(url, "SELECT 1 FROM inbox")) == 4, timeout=30)

    assert before == [(None,)]
    assert moved_at() == first
    [letter] = read_topic(cluster.bootstrap_servers, dlq)
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["x-dlq-reason"] == "invalid"
    assert f"not batch {batch['id']}'s net" in headers["x-error-message"]

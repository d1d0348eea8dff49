"""The itemizer turns posted payments and refunds into items, each exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest

from payevents import Envelope
from payevents.envelope import new_event_id
from payevents.topics import Topic
from paykit.consumer import Consumer
from paykit.testing import running, wait_until
from settlement_service.entrypoints.consumers import itemizer

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
    settlement = posting(merchant, "payment", 5_000, 95)
    settlement = replace(settlement, data={**settlement.data, "kind": "settlement"})

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

"""Dead letters as an operator meets them: bytes that are no event, published on any topic of
the catalogue, land in the DLQ of every group that reads it, and only its poison; a settlement
closing the ledger refused (escrow no longer held it) waits in the ledger's DLQ, and once an
operator restored the escrow, ``payctl dlq replay`` sends exactly that letter back and the
batch is paid."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from e2e_clients import Merchant, Operator
from e2e_observe import Psp, Topics, eventually
from e2e_settlement import batch_closed_with, batch_events, paid_and_itemised, paid_out
from e2e_target import Target

from payevents import decode
from payevents.topics import CATALOGUE, SETTLEMENT_EVENTS
from paykit.testing import wait_until

pytestmark = pytest.mark.e2e

AMOUNT = 3000
LEDGER_SETTLEMENT_DLQ = SETTLEMENT_EVENTS.dlq_topic("ledger-settlement-poster")


def _header(record: Any, name: str) -> str | None:
    found = [value for key, value in record.headers or () if key == name]
    return found[0].decode() if found else None


def _letters(topics: Topics, dlq: str, key: str) -> list[Any]:
    return topics.records(dlq, key)


def test_bytes_that_are_no_event_land_in_the_dlq_of_every_group_that_reads_the_topic(
    topics: Topics,
) -> None:
    key = f"poison_{uuid.uuid4().hex[:12]}"
    poison = {topic.name: b"\xff\xfe{not an event on " + topic.name.encode() for topic in CATALOGUE}

    for topic in CATALOGUE:
        topics.publish(topic.name, key, poison[topic.name])

    for topic in CATALOGUE:
        for group in topic.consumers:
            dlq = topic.dlq_topic(group.name)
            [letter] = eventually(partial(_letters, topics, dlq, key), f"the poison in {dlq}")
            assert letter.value == poison[topic.name], f"{dlq} holds another topic's poison"
            assert (_header(letter, "x-dlq-reason"), _header(letter, "x-original-topic")) == (
                "invalid",
                topic.name,
            )


def _payctl(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    """payctl as an operator runs it, against this cluster's Kafka."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": target.kafka_bootstrap_servers}
    done = subprocess.run(
        [sys.executable, "-m", "payctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"payctl {' '.join(args)}: {done.stderr}"
    return done


def _escrow_move(merchant: Merchant, amount: int, to_escrow: bool) -> list[dict[str, Any]]:
    escrow = {"account": f"merchant:{merchant.merchant_id}:escrow", "amount": amount}
    clearing = {"account": "psp_clearing", "amount": amount}
    into, out_of = (escrow, clearing) if to_escrow else (clearing, escrow)
    return [{**out_of, "direction": "debit"}, {**into, "direction": "credit"}]


def test_a_closing_the_ledger_refused_is_replayed_by_payctl_once_escrow_holds_it_again(
    merchant: Merchant,
    operator: Operator,
    psp: Psp,
    topics: Topics,
    target: Target,
    fee: Callable[[int], int],
) -> None:
    net = AMOUNT - fee(AMOUNT)
    payment_id = paid_and_itemised(merchant, topics, AMOUNT, net)
    emptied = operator.adjust(
        _escrow_move(merchant, net, to_escrow=False),
        "e2e: the merchant's escrow emptied after its item was made",
        uuid.uuid4().hex,
    )
    assert emptied.status_code == 201, emptied.text
    assert merchant.balances() == {"escrow": 0, "payable": 0, "receivable": 0}

    batch, _ = batch_closed_with(merchant, operator, payment_id)

    def refused() -> list[Any]:
        letters = _letters(topics, LEDGER_SETTLEMENT_DLQ, merchant.merchant_id)
        return [x for x in letters if decode(x.value).data.get("batch_id") == batch["id"]]

    [letter] = eventually(refused, f"the ledger to dead-letter the closing of {batch['id']}")
    assert _header(letter, "x-dlq-reason") == "invalid"
    letter_spot = (letter.partition, letter.offset)
    # the janitor looks every second: a payout would have been asked for by now
    assert not wait_until(
        lambda: (
            merchant.settlement(batch["id"])["status"] != "closed" or psp.payouts(batch["id"]) != []
        ),
        timeout=2,
    ), merchant.settlement(batch["id"])
    held = merchant.settlement(batch["id"])
    assert (held["attempt"], held["ledger_moved_at"], held["payouts"]) == (0, None, [])

    restored = operator.adjust(
        _escrow_move(merchant, net, to_escrow=True),
        "e2e: the escrow restored",
        uuid.uuid4().hex,
    )
    assert restored.status_code == 201, restored.text
    replayed = _payctl(
        target, "dlq", "replay", LEDGER_SETTLEMENT_DLQ, "--at", "{}:{}".format(*letter_spot)
    )

    assert "replayed 1 message(s)" in replayed.stdout
    paid_out(merchant, operator, batch["id"], net)
    # the replay is the closing itself again, on the topic it first failed on
    closings = [
        e.id
        for e in topics.events(SETTLEMENT_EVENTS.name, merchant.merchant_id)
        if e.type == "settlement.batch_closed"
    ]
    assert closings == [decode(letter.value).id] * 2
    assert batch_events(topics, merchant.merchant_id, batch["id"]) == [
        "batch_closed",
        "batch_closed",
        "batch_submitted",
        "batch_paid",
    ]
    assert operator.trial_balance()["balanced"] is True

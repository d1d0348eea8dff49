"""The core flow, the whole way: a merchant made at the gateway takes a payment through its
public API, the PSP charges it and says so in a signed webhook, the payment succeeds, the
ledger posts it, settlement itemises it, a scheduled batch closes it, the bank pays it out and
the batch is paid; the merchant's balances, its ledger entries, the batch report, the bank's
record, the trial balance and the day's three-way reconciliation agree at every step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from e2e_clients import Merchant, Operator
from e2e_observe import Psp, Topics, at_least, eventually, told
from e2e_settlement import (
    ZERO,
    balances_become,
    batch_closed_with,
    batch_events,
    item_of,
    paid_out,
    report_totals,
)

from payevents.topics import LEDGER_EVENTS, PAYMENT_EVENTS, WEBHOOK_EVENTS

pytestmark = pytest.mark.e2e

AMOUNT = 3000


def _reconciled_lines(operator: Operator, ids: set[str]) -> dict[str, list[str]]:
    """Per check of today's reconciliation, the results of the lines naming one of ``ids``."""
    report = operator.reconcile(datetime.now(UTC).date())
    return {
        name: [
            line["result"] for line in check["lines"] if ids & set(map(str, line["ids"].values()))
        ]
        for name, check in report["checks"].items()
    }


def test_a_payment_goes_from_the_api_to_the_merchants_bank_and_every_view_agrees(
    merchant: Merchant,
    operator: Operator,
    psp: Psp,
    topics: Topics,
    setting: Callable[[str, str], str | None],
    fee: Callable[[int], int],
) -> None:
    fee_taken = fee(AMOUNT)
    net = AMOUNT - fee_taken

    # payment -> PSP -> signed webhook -> succeeded
    payment = merchant.create_payment(AMOUNT)
    assert (payment["status"], payment["merchant_id"]) == ("created", merchant.merchant_id)
    done = merchant.wait_for_status(payment["id"], "succeeded")
    assert (done["amount"], done["amount_refunded"], done["failure_code"]) == (AMOUNT, 0, None)
    [charge] = psp.charges(payment["id"])
    assert (charge["status"], charge["amount"]) == ("succeeded", AMOUNT)
    [delivery] = psp.deliveries(payment["id"])
    assert (delivery["type"], delivery["state"]) == ("payment.status", "delivered")
    assert operator.webhook_verdicts(payment["id"]) == ["accepted"]
    [received] = topics.events(WEBHOOK_EVENTS.name, payment["id"])
    assert (received.type, received.data["status"]) == ("psp.payment_status_received", "succeeded")
    lifecycle = ("payment.created", "payment.processing", "payment.succeeded")
    assert told(topics, PAYMENT_EVENTS.name, payment["id"], *lifecycle) == dict.fromkeys(
        lifecycle, 1
    )

    # the ledger's posting: the net in escrow, the fee to the platform
    balances_become(merchant, {"escrow": net, "payable": 0, "receivable": 0})
    [credited] = merchant.entries("escrow")
    assert (credited["kind"], credited["direction"], credited["amount"]) == (
        "payment",
        "credit",
        net,
    )
    posted = operator.transaction(credited["transaction_id"])
    assert posted["payment_id"] == payment["id"]
    assert {(e["account"], e["direction"], e["amount"]) for e in posted["entries"]} == {
        ("psp_clearing", "debit", AMOUNT),
        (f"merchant:{merchant.merchant_id}:escrow", "credit", net),
        ("platform:fees", "credit", fee_taken),
    }
    [announced] = at_least(topics, LEDGER_EVENTS.name, merchant.merchant_id, 1)
    assert (announced.data["kind"], announced.data["transaction_id"]) == (
        "payment",
        credited["transaction_id"],
    )

    # settlement: the item, then a batch of it
    item = item_of(topics, merchant.merchant_id, payment["id"])
    assert (item["kind"], item["amount"], item["fee_amount"]) == ("payment", AMOUNT, fee_taken)
    schedule = setting("settlement-scheduler", "SETTLEMENT_SCHEDULE") or ""
    batch, closed_by = batch_closed_with(merchant, operator, payment["id"], schedule)
    print(f"batch {batch['id']} closed by the {closed_by}")
    assert (batch["item_count"], batch["gross_amount"], batch["fee_amount"]) == (
        1,
        AMOUNT,
        fee_taken,
    )
    assert batch["net_amount"] == net
    [batch_item] = batch["items"]
    assert (batch_item["id"], batch_item["net_amount"]) == (item["item_id"], net)
    report = merchant.settlement_report(batch["id"])
    assert [(r["payment_id"], r["net_amount"]) for r in report if r["item_id"] != "total"] == [
        (payment["id"], str(net))
    ]
    total = report_totals(report)
    assert (total["gross_amount"], total["fee_amount"], total["net_amount"]) == (
        str(AMOUNT),
        str(fee_taken),
        str(net),
    )

    # payout -> paid, and the ledger's moves: escrow -> payable -> the bank
    paid = paid_out(merchant, operator, batch["id"], net)
    [payout] = paid["payouts"]
    assert (payout["attempt"], payout["status"], payout["amount"]) == (1, "paid", net)
    assert [(p["id"], p["status"], p["amount"]) for p in psp.payouts(batch["id"])] == [
        (payout["bank_payout_id"], "paid", net)
    ]
    assert merchant.moves("escrow") == [("payment", "credit", net), ("settlement", "debit", net)]
    assert merchant.moves("payable") == [("settlement", "credit", net), ("payout", "debit", net)]
    assert batch_events(topics, merchant.merchant_id, batch["id"]) == [
        "batch_closed",
        "batch_submitted",
        "batch_paid",
    ]

    # the balances as they stood at each step agree with the entries of that step
    steps = [*merchant.entries("escrow"), *merchant.entries("payable")]
    as_of: dict[str, dict[str, int]] = {
        entry["kind"]: merchant.balances(as_of=entry["effective_at"]) for entry in steps
    }
    assert as_of == {
        "payment": {"escrow": net, "payable": 0, "receivable": 0},
        "settlement": {"escrow": 0, "payable": net, "receivable": 0},
        "payout": ZERO,
    }

    # the operators' reports agree
    assert operator.trial_balance()["balanced"] is True
    ids = {payment["id"], batch["id"]}
    lines = eventually(
        lambda: (found := _reconciled_lines(operator, ids)) and all(found.values()) and found,
        "today's reconciliation to hold the payment and the batch on every side",
    )
    assert lines == {
        "settlement_vs_ledger": ["matched"],
        "platform_vs_psp": ["matched"],
        "batches_vs_bank": ["matched"],
    }

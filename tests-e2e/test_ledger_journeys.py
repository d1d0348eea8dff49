"""Refunds in the merchant's money: a partial then a full refund takes the whole amount back
(the ledger keeps the fee, which the merchant then owes); a refund before its payment is
settled is netted in the same batch; one after its payment was paid out becomes receivable and
is netted against the next batch. Every step is seen through the merchant's balances and
entries at the gateway, its batches and reports, and ledger-events."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_clients import Merchant, Operator
from e2e_observe import Psp, Topics, at_least, eventually, told
from e2e_settlement import (
    ZERO,
    balances_become,
    batch_closed_with,
    item_of,
    paid_and_itemised,
    paid_out,
    report_totals,
)

from payevents.topics import LEDGER_EVENTS, PAYMENT_EVENTS

pytestmark = pytest.mark.e2e


def _refund_succeeds(merchant: Merchant, payment_id: str, amount: int) -> dict[str, object]:
    refund = merchant.refund(payment_id, amount)
    assert (refund["amount"], refund["status"]) == (amount, "requested")

    def succeeded() -> bool:
        return any(
            r["id"] == refund["id"] and r["status"] == "succeeded"
            for r in merchant.refunds(payment_id)
        )

    eventually(succeeded, f"refund {refund['id']} of {payment_id} to succeed")
    return refund


def test_a_partial_then_a_full_refund_returns_the_amount_and_the_merchant_owes_the_fee(
    merchant: Merchant,
    psp: Psp,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    amount = 5000
    net = amount - fee(amount)
    payment = merchant.create_payment(amount)
    merchant.wait_for_status(payment["id"], "succeeded")
    balances_become(merchant, {"escrow": net, "payable": 0, "receivable": 0})

    _refund_succeeds(merchant, payment["id"], 2000)
    partly = merchant.wait_for_status(payment["id"], "partially_refunded")
    assert partly["amount_refunded"] == 2000
    balances_become(merchant, {"escrow": net - 2000, "payable": 0, "receivable": 0})

    _refund_succeeds(merchant, payment["id"], amount - 2000)
    whole = merchant.wait_for_status(payment["id"], "refunded")
    assert whole["amount_refunded"] == amount
    # escrow gave what it held; the rest, the fee the platform keeps, is owed by the merchant
    balances_become(merchant, {"escrow": 0, "payable": 0, "receivable": amount - net})
    assert merchant.moves("escrow") == [
        ("payment", "credit", net),
        ("refund", "debit", 2000),
        ("refund", "debit", net - 2000),
    ]
    assert merchant.moves("receivable") == [("refund", "debit", amount - net)]

    beyond = merchant.post_refund(payment["id"], 1)
    assert (beyond.status_code, beyond.json()["code"]) == (409, "payment_not_refundable")
    assert [(r["amount"], r["status"]) for r in merchant.refunds(payment["id"])] == [
        (2000, "succeeded"),
        (amount - 2000, "succeeded"),
    ]
    counted = told(topics, PAYMENT_EVENTS.name, payment["id"], "refund.succeeded")
    assert (counted["refund.requested"], counted["refund.succeeded"]) == (2, 2)
    assert [d["type"] for d in psp.deliveries(payment["id"])].count("refund.status") == 2
    announced = at_least(topics, LEDGER_EVENTS.name, merchant.merchant_id, 3)
    assert [e.data["kind"] for e in announced] == ["payment", "refund", "refund"]


def test_a_refund_before_its_payment_is_settled_is_netted_in_the_same_batch(
    merchant: Merchant,
    operator: Operator,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    amount, refunded = 3000, 1000
    fee_taken = fee(amount)
    net = amount - fee_taken - refunded
    payment = merchant.create_payment(amount)
    merchant.wait_for_status(payment["id"], "succeeded")
    _refund_succeeds(merchant, payment["id"], refunded)
    balances_become(merchant, {"escrow": net, "payable": 0, "receivable": 0})
    item_of(topics, merchant.merchant_id, payment["id"], kind="refund")

    batch, _ = batch_closed_with(merchant, operator, payment["id"])

    assert sorted((i["kind"], i["net_amount"]) for i in batch["items"]) == [
        ("payment", amount - fee_taken),
        ("refund", -refunded),
    ]
    assert (batch["gross_amount"], batch["refunded_amount"], batch["fee_amount"]) == (
        amount,
        refunded,
        fee_taken,
    )
    assert batch["net_amount"] == net
    total = report_totals(merchant.settlement_report(batch["id"]))
    assert (total["refunded_amount"], total["net_amount"]) == (str(refunded), str(net))
    paid_out(merchant, operator, batch["id"], net)


def test_a_refund_after_the_payout_is_owed_and_netted_against_the_next_batch(
    merchant: Merchant,
    operator: Operator,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    amount, refunded = 3000, 1000
    net = amount - fee(amount)
    first = paid_and_itemised(merchant, topics, amount, net)
    paid_first, _ = batch_closed_with(merchant, operator, first)
    paid_out(merchant, operator, paid_first["id"], net)

    _refund_succeeds(merchant, first, refunded)
    balances_become(merchant, {"escrow": 0, "payable": 0, "receivable": refunded})
    second = paid_and_itemised(merchant, topics, amount, net)
    assert merchant.balances() == {"escrow": net, "payable": 0, "receivable": refunded}

    batch, _ = batch_closed_with(merchant, operator, second)

    assert sorted((i["kind"], i["payment_id"], i["net_amount"]) for i in batch["items"]) == [
        ("payment", second, net),
        ("refund", first, -refunded),
    ]
    assert batch["net_amount"] == net - refunded
    paid_out(merchant, operator, batch["id"], net - refunded)
    # the closing took what the merchant owed out of escrow before the payable
    assert merchant.moves("receivable") == [
        ("refund", "debit", refunded),
        ("settlement", "credit", refunded),
    ]
    assert merchant.balances() == ZERO

"""Payouts that do not simply succeed: a payout to a closed account fails (payable back to
escrow) and an operator's retry to a corrected account pays it once; a payout whose webhook
never comes is completed by the janitor's re-check at the bank.

The bank decides by account, and the test cluster gives the merchant families
``MER_stl_closed_*`` and ``MER_stl_silent_*`` the accounts ``acct_closed`` and ``acct_silent``
(``SETTLEMENT_BANK_ACCOUNTS`` in deploy/local/run-tests.sh), so these merchants are named by the
journey (``merchant_named``) rather than made by the gateway; a cluster without those settings
skips them, saying so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from e2e_clients import Merchant, Operator
from e2e_observe import Psp, Topics
from e2e_settlement import (
    balances_become,
    batch_closed_with,
    batch_events,
    paid_and_itemised,
    paid_out,
    status_becomes,
)

pytestmark = pytest.mark.e2e

AMOUNT = 3000


@pytest.fixture
def merchant_of_family(
    merchant_named: Callable[[str], Merchant], setting: Callable[[str, str], str | None]
) -> Callable[[str, str], Merchant]:
    """``merchant_of_family(family, account)``: a fresh ``MER_stl_<family>_*`` merchant, whose
    payouts the cluster sends to the bank account ``account``."""

    def make(family: str, account: str) -> Merchant:
        rule = f"MER_stl_{family}_*={account}"
        configured = (setting("settlement-janitor", "SETTLEMENT_BANK_ACCOUNTS") or "").split(",")
        if rule not in configured:
            pytest.skip(f"SETTLEMENT_BANK_ACCOUNTS of this cluster has no {rule}")
        return merchant_named(f"MER_stl_{family}_{uuid.uuid4().hex[:10]}")

    return make


def _closed_batch(
    merchant: Merchant, operator: Operator, topics: Topics, net: int
) -> dict[str, object]:
    payment_id = paid_and_itemised(merchant, topics, AMOUNT, net)
    batch, _ = batch_closed_with(merchant, operator, payment_id)
    assert (batch["item_count"], batch["net_amount"]) == (1, net)
    return batch


def test_a_payout_to_a_closed_account_fails_back_to_escrow_and_its_corrected_retry_pays_once(
    merchant_of_family: Callable[[str, str], Merchant],
    operator: Operator,
    psp: Psp,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    net = AMOUNT - fee(AMOUNT)
    merchant = merchant_of_family("closed", "acct_closed")
    batch = _closed_batch(merchant, operator, topics, net)
    batch_id = str(batch["id"])

    status_becomes(merchant, batch_id, "failed")
    balances_become(merchant, {"escrow": net, "payable": 0, "receivable": 0})
    assert sorted(m[1:] for m in merchant.moves("payable")) == [("credit", net), ("debit", net)]
    [failed] = merchant.settlement(batch_id)["payouts"]
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")

    retried = operator.retry_batch(batch_id, bank_account="acct_corrected")
    assert retried.status_code == 202, retried.text
    paid_out(merchant, operator, batch_id, net)

    again = operator.retry_batch(batch_id)
    assert again.status_code == 409, again.text
    attempts = merchant.settlement(batch_id)["payouts"]
    assert [(p["attempt"], p["bank_account"], p["status"]) for p in attempts] == [
        (1, "acct_closed", "failed"),
        (2, "acct_corrected", "paid"),
    ]
    assert [(p["attempt"], p["status"]) for p in psp.payouts(batch_id)] == [
        (1, "failed"),
        (2, "paid"),
    ]
    assert batch_events(topics, merchant.merchant_id, batch_id) == [
        "batch_closed",
        "batch_submitted",
        "batch_failed",
        "batch_submitted",
        "batch_paid",
    ]


def test_a_payout_whose_webhook_never_comes_is_completed_by_the_janitor(
    merchant_of_family: Callable[[str, str], Merchant],
    operator: Operator,
    psp: Psp,
    topics: Topics,
    fee: Callable[[int], int],
) -> None:
    net = AMOUNT - fee(AMOUNT)
    merchant = merchant_of_family("silent", "acct_silent")
    batch = _closed_batch(merchant, operator, topics, net)

    paid = paid_out(merchant, operator, str(batch["id"]), net)

    [payout] = paid["payouts"]
    assert psp.deliveries(payout["bank_payout_id"]) == []  # the bank never told: a re-check did

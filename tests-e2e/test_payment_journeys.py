"""A merchant's payments when the PSP declines, never calls back, loses its answer or is down,
and when a worker dies: payments created at the gateway end as the PSP decided, each charged
once, and payment-events tells each step once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e_clients import Merchant
from e2e_observe import Psp, Topics, eventually, told
from e2e_target import Target

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS

pytestmark = pytest.mark.e2e

CHARGER_FIRST_RETRY = PAYMENT_EVENTS.retry_topic("payment-psp-charger", 1)


def test_a_declined_card_fails_the_payment_and_moves_no_money(
    merchant: Merchant, topics: Topics
) -> None:
    payment = merchant.create_payment(method="pm_card_declined")

    failed = merchant.wait_for_status(payment["id"], "failed")

    assert (failed["failure_code"], failed["amount_refunded"]) == ("card_declined", 0)
    lifecycle = ("payment.created", "payment.processing", "payment.failed")
    counted = told(topics, PAYMENT_EVENTS.name, payment["id"], *lifecycle)
    assert counted == dict.fromkeys(lifecycle, 1)
    assert merchant.balances() == {}  # the ledger posted nothing for the merchant
    refused = merchant.post_refund(payment["id"], 1000)
    assert refused.status_code in (409, 422), refused.text


def test_a_charge_whose_answer_timed_out_is_found_without_a_webhook(
    merchant: Merchant, psp: Psp, topics: Topics
) -> None:
    payment = merchant.create_payment(method="pm_card_timeout")

    merchant.wait_for_status(payment["id"], "succeeded")

    assert topics.events(WEBHOOK_EVENTS.name, payment["id"]) == []  # the PSP never called back
    assert psp.deliveries(payment["id"]) == []
    assert len(psp.charges(payment["id"])) == 1  # the retried charge reused the first one


def test_a_payment_the_psp_never_calls_back_about_is_settled_from_its_record(
    merchant: Merchant,
    psp: Psp,
    psp_faults: Callable[..., dict[str, Any]],
    topics: Topics,
) -> None:
    psp_faults(silent=True)  # no webhook for what is charged meanwhile
    payment = merchant.create_payment()

    done = merchant.wait_for_status(payment["id"], "succeeded")

    assert done["amount"] == 3000
    assert psp.deliveries(payment["id"]) == []
    assert topics.events(WEBHOOK_EVENTS.name, payment["id"]) == []
    [charge] = psp.charges(payment["id"])
    assert charge["status"] == "succeeded"
    assert (
        told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded")["payment.succeeded"]
        == 1
    )


def test_a_psp_outage_delays_payments_but_charges_each_exactly_once(
    merchant: Merchant, psp: Psp, psp_faults: Callable[..., dict[str, Any]], topics: Topics
) -> None:
    psp_faults(down=True)
    created = [merchant.create_payment() for _ in range(5)]
    handed_over = {p["id"] for p in created}

    def all_retried() -> bool:  # the charger failed each and handed it to its retry tiers
        retried = {r.key.decode() for r in topics.records(CHARGER_FIRST_RETRY)}
        return handed_over <= retried

    eventually(all_retried, f"the charger to hand {len(created)} payments to its retry tier")
    statuses = {merchant.payment(p["id"])["status"] for p in created}
    assert statuses == {"created"}  # nothing charged, nothing lost: waiting for the PSP

    psp.clear_faults()
    for payment in created:
        merchant.wait_for_status(payment["id"], "succeeded")
    for payment in created:
        assert len(psp.charges(payment["id"])) == 1
        counted = told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded")
        assert counted["payment.succeeded"] == 1


def test_a_killed_charger_loses_no_payment(
    merchant: Merchant, target: Target, topics: Topics
) -> None:
    created = [merchant.create_payment() for _ in range(8)]

    target.processes.kill("payment-charger")

    for payment in created:
        merchant.wait_for_status(payment["id"], "succeeded")
    for payment in created:
        counted = told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded")
        assert (counted["payment.processing"], counted["payment.succeeded"]) == (1, 1)

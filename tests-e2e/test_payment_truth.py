"""What the platform says about a payment or refund converges to what the PSP did.

Journeys on the running cluster through the gateway, signed webhooks and observable events: a
report that is missing a field, contradicts what the platform holds, or cannot be verified is
confirmed with the PSP's own record before it changes anything; a PSP that hangs delays no one
else and charges nothing twice. The payment service's verdicts on the reports (``psp_reports``)
are an internal, read where the verdict is what a journey is about.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from e2e_clients import Merchant
from e2e_observe import Psp, Topics, WebhookSender, eventually, status_report, told, types
from e2e_target import Target

from payevents import decode
from payevents.topics import PAYMENT_EVENTS

pytestmark = pytest.mark.e2e

CHARGER_DLQ = PAYMENT_EVENTS.dlq_topic("payment-psp-charger")
# Longer than the charger's PSP timeout and the first retry tiers (make test: 2 s; 1 and 2 s),
# so the stuck charge's first requests are all still held when the PSP recovers and carry on
# after its retry charged it: each of them must replay that one charge.
HANG_MS = 12_000
Reports = Callable[[Merchant, str], list[dict[str, Any]]]


def _report(payment_id: str, status: str, **gateway: Any) -> dict[str, Any]:
    return status_report(payment_id, status, f"evt_e2e{uuid.uuid4().hex}", **gateway)


def test_a_failure_reported_before_the_success_ends_succeeded_and_refundable(
    merchant: Merchant, psp: Psp, topics: Topics
) -> None:
    payment = merchant.create_payment(method="pm_card_early_failure")

    eventually(
        lambda: [d["state"] for d in psp.deliveries(payment["id"])] == ["delivered", "delivered"],
        "the PSP to deliver its FAILED and then its SUCCESS",
    )
    merchant.wait_for_status(payment["id"], "succeeded")
    merchant.refund(payment["id"], 1000)
    merchant.wait_for_status(payment["id"], "partially_refunded")

    told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded", "refund.requested")
    events = topics.events(PAYMENT_EVENTS.name, payment["id"])
    succeeded = [e for e in events if e.type == "payment.succeeded"]
    assert len(succeeded) == 1
    if types(events)["payment.failed"]:  # the failure was applied first: it was corrected
        assert succeeded[0].data["corrected_from"] == "failed"


def test_a_signed_success_for_a_declined_card_ends_failed_as_the_psp_says(
    merchant: Merchant,
    psp: Psp,
    psp_faults: Callable[..., dict[str, Any]],
    webhooks: WebhookSender,
    psp_reports: Reports,
    topics: Topics,
) -> None:
    psp_faults(silent=True)  # the PSP's own FAILED never comes: only its record can tell
    payment = merchant.create_payment(method="pm_card_declined")
    merchant.wait_for_status(payment["id"], "processing")
    [charge] = psp.charges(payment["id"])

    answer = webhooks.send(
        _report(payment["id"], "SUCCESS", amount=3000, currency="EUR", chargeId=charge["id"])
    )
    assert answer.status_code < 300, answer.text
    eventually(lambda: psp_reports(merchant, payment["id"]), "the report to be judged")
    failed = merchant.wait_for_status(payment["id"], "failed")

    assert failed["failure_code"] == "card_declined"
    told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.failed")
    events = topics.events(PAYMENT_EVENTS.name, payment["id"])
    assert events[-1].type == "payment.failed"
    if types(events)["payment.succeeded"]:  # the report was applied first: it was corrected
        assert events[-1].data["corrected_from"] == "succeeded"


def test_a_signed_success_for_a_payment_already_failed_changes_nothing(
    merchant: Merchant,
    psp: Psp,
    webhooks: WebhookSender,
    psp_reports: Reports,
    topics: Topics,
) -> None:
    payment = merchant.create_payment(method="pm_card_declined")
    merchant.wait_for_status(payment["id"], "failed")
    [charge] = psp.charges(payment["id"])

    answer = webhooks.send(
        _report(payment["id"], "SUCCESS", amount=3000, currency="EUR", chargeId=charge["id"])
    )
    assert answer.status_code < 300, answer.text

    def contradiction_kept() -> list[dict[str, Any]]:
        return [r for r in psp_reports(merchant, payment["id"]) if r["status"] == "succeeded"]

    [kept] = eventually(contradiction_kept, "the contradicting report to be kept")
    assert (kept["verdict"], kept["reason"]) == (
        "contradicted",
        "reports succeeded, the payment is failed",
    )
    eventually(  # the janitor's look at the PSP touches the payment
        lambda: merchant.payment(payment["id"])["updated_at"] > kept["recorded_at"],
        "the janitor to re-check the payment at the PSP",
    )
    assert merchant.payment(payment["id"])["status"] == "failed"
    assert "payment.succeeded" not in types(topics.events(PAYMENT_EVENTS.name, payment["id"]))


def test_a_report_in_another_currency_changes_nothing_and_is_kept_with_the_reason(
    merchant: Merchant,
    psp_faults: Callable[..., dict[str, Any]],
    webhooks: WebhookSender,
    psp_reports: Reports,
    topics: Topics,
) -> None:
    psp_faults(down=True)  # the PSP cannot settle it meanwhile: only the report could
    payment = merchant.create_payment()

    answer = webhooks.send(
        _report(payment["id"], "SUCCESS", amount=3000, currency="JPY", chargeId="ch_x")
    )
    assert answer.status_code < 300, answer.text
    [kept] = eventually(lambda: psp_reports(merchant, payment["id"]), "the report to be judged")

    assert kept["verdict"] == "contradicted"
    assert "currency JPY is not the EUR we hold" in kept["reason"]
    unchanged = merchant.payment(payment["id"])
    assert (unchanged["status"], unchanged["currency"]) == ("created", "EUR")

    psp_faults()  # the PSP is back: its own record settles the payment, in euros
    done = merchant.wait_for_status(payment["id"], "succeeded")
    assert (done["amount"], done["currency"]) == (3000, "EUR")
    counted = told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded")
    assert counted["payment.succeeded"] == 1


def test_a_legacy_report_without_an_amount_is_applied_only_once_the_psp_confirms(
    merchant: Merchant,
    psp_faults: Callable[..., dict[str, Any]],
    webhooks: WebhookSender,
    psp_reports: Reports,
) -> None:
    psp_faults(down=True)
    payment = merchant.create_payment()

    legacy = {"paymentRef": payment["id"], "status": "SUCCESS", "gatewayData": {}}
    answer = webhooks.send(legacy)
    assert answer.status_code < 300, answer.text
    [kept] = eventually(lambda: psp_reports(merchant, payment["id"]), "the report to be judged")

    assert (kept["verdict"], kept["reason"]) == (
        "unconfirmed",
        "the report lacks amount, currency, charge",
    )
    assert merchant.payment(payment["id"])["status"] == "created"

    psp_faults()
    merchant.wait_for_status(payment["id"], "succeeded")


def _refund_succeeded(merchant: Merchant, payment_id: str) -> None:
    eventually(
        lambda: [r["status"] for r in merchant.refunds(payment_id)] == ["succeeded"],
        f"the refund of {payment_id} to succeed",
    )


def test_a_refund_whose_psp_outcome_never_comes_is_completed_by_the_janitor(
    merchant: Merchant, psp: Psp, psp_faults: Callable[..., dict[str, Any]]
) -> None:
    payment = merchant.create_payment(5000)
    merchant.wait_for_status(payment["id"], "succeeded")
    psp_faults(silent=True)  # no webhook will ever say how the refund went

    merchant.refund(payment["id"], 2000)

    _refund_succeeded(merchant, payment["id"])
    after = merchant.payment(payment["id"])
    assert (after["status"], after["amount_refunded"]) == ("partially_refunded", 2000)
    assert [d["type"] for d in psp.deliveries(payment["id"])] == ["payment.status"]


def test_a_refund_whose_retries_ran_out_is_completed_by_the_janitor(
    merchant: Merchant, psp_faults: Callable[..., dict[str, Any]], topics: Topics
) -> None:
    payment = merchant.create_payment(5000)
    merchant.wait_for_status(payment["id"], "succeeded")
    psp_faults(down=True)
    refund = merchant.refund(payment["id"], 2000)

    def dead_lettered() -> bool:
        letters = topics.records(CHARGER_DLQ, payment["id"])
        return any(decode(letter.value).data.get("refund_id") == refund["id"] for letter in letters)

    eventually(dead_lettered, "the charger to give up on the refund")
    assert [r["status"] for r in merchant.refunds(payment["id"])] == ["requested"]

    psp_faults()
    merchant.wait_for_status(payment["id"], "partially_refunded")
    assert [r["status"] for r in merchant.refunds(payment["id"])] == ["succeeded"]


def _seconds_to_succeed(merchant: Merchant, count: int) -> list[float]:
    started = time.monotonic()
    created = [merchant.create_payment() for _ in range(count)]
    took = []
    for payment in created:
        merchant.wait_for_status(payment["id"], "succeeded")
        took.append(time.monotonic() - started)
    return took


def test_a_psp_that_hangs_delays_no_one_else_and_charges_nothing_twice(
    merchant: Merchant,
    psp: Psp,
    psp_faults: Callable[..., dict[str, Any]],
    topics: Topics,
    target: Target,
    setting: Callable[[str, str], str | None],
) -> None:
    psp_timeout = float(setting("payment-charger", "PAYMENT_PSP_TIMEOUT_SECONDS") or "10")
    charger = target.processes
    log_start = charger.log_mark("payment-charger")
    instance = charger.instance("payment-charger")
    usual = max(_seconds_to_succeed(merchant, 3))

    # Every request to charge this token hangs, retries included; other payments use another.
    psp_faults(hang_ms=HANG_MS, hang_payment_method="pm_card_slow_webhook")
    stuck = merchant.create_payment(method="pm_card_slow_webhook")
    eventually(lambda: psp.hanging() >= 1, "the PSP to hold the stuck charge")
    others = _seconds_to_succeed(merchant, 5)
    psp_faults()  # the PSP recovers; the requests it holds still carry on when their time is up
    merchant.wait_for_status(stuck["id"], "succeeded")
    eventually(lambda: psp.hanging() == 0, "the PSP to let go of every held request", 90)

    assert max(others) <= usual + psp_timeout + 1.0, (others, usual)
    assert len(psp.charges(stuck["id"])) == 1  # every late request replayed the one charge
    counted = told(topics, PAYMENT_EVENTS.name, stuck["id"], "payment.succeeded")
    assert counted["payment.succeeded"] == 1
    assert charger.instance("payment-charger") == instance
    since = charger.logs_since("payment-charger", log_start).lower()
    for sign_of_eviction in ("poll expired", "leaving group", "rebalanc", "heartbeat"):
        assert sign_of_eviction not in since

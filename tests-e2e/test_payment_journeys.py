"""A merchant's payment through every running service: payment API -> outbox -> payment-events
-> charger -> PSP -> signed webhook -> webhook service -> webhook-events -> status applier."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS

pytestmark = pytest.mark.e2e


def _types(envelopes) -> Counter[str]:
    return Counter(envelope.type for envelope in envelopes)


def test_a_payment_succeeds_through_the_psp_webhook(
    create_payment, wait_for_status, events_about, eventually
) -> None:
    payment = create_payment("pm_card_visa")
    assert payment["status"] == "created"
    done = wait_for_status(payment["id"], "succeeded")
    assert done["amount"] == 3000 and done["failure_code"] is None
    events = eventually(
        lambda: (e := events_about(PAYMENT_EVENTS.name, payment["id"])) and len(e) >= 3 and e
    )
    assert _types(events) == {"payment.created": 1, "payment.processing": 1, "payment.succeeded": 1}
    [received] = events_about(WEBHOOK_EVENTS.name, payment["id"])
    assert received.type == "psp.payment_status_received"
    assert received.data["status"] == "succeeded"


def test_a_declined_card_fails_the_payment(create_payment, wait_for_status) -> None:
    payment = create_payment("pm_card_declined")
    failed = wait_for_status(payment["id"], "failed")
    assert failed["failure_code"] == "card_declined"


def test_a_duplicate_webhook_changes_nothing(
    create_payment, wait_for_status, events_about, psp: httpx.Client, eventually
) -> None:
    payment = create_payment("pm_card_duplicate_webhook")
    wait_for_status(payment["id"], "succeeded")

    def both_delivered() -> bool:
        deliveries = psp.get("/_admin/deliveries", params={"reference": payment["id"]}).json()
        return sum(d["state"] == "delivered" for d in deliveries["data"]) >= 2

    eventually(both_delivered)
    time.sleep(1)  # time for a second application to show, if there were one
    assert _types(events_about(PAYMENT_EVENTS.name, payment["id"]))["payment.succeeded"] == 1
    assert len(events_about(WEBHOOK_EVENTS.name, payment["id"])) == 1


def test_a_late_contradicting_webhook_is_ignored(
    create_payment, wait_for_status, events_about, psp: httpx.Client, payments, eventually
) -> None:
    payment = create_payment("pm_card_out_of_order")
    wait_for_status(payment["id"], "succeeded")

    def late_failure_applied_or_skipped() -> bool:
        received = events_about(WEBHOOK_EVENTS.name, payment["id"])
        return [e.data["status"] for e in received] == ["succeeded", "failed"]

    eventually(late_failure_applied_or_skipped)
    time.sleep(1)
    assert payments.get(f"/payments/{payment['id']}").json()["status"] == "succeeded"
    assert "payment.failed" not in _types(events_about(PAYMENT_EVENTS.name, payment["id"]))


def test_a_charge_whose_answer_timed_out_is_found_without_a_webhook(
    create_payment, wait_for_status, events_about, psp: httpx.Client
) -> None:
    payment = create_payment("pm_card_timeout")
    done = wait_for_status(payment["id"], "succeeded")
    assert done["status"] == "succeeded"
    assert events_about(WEBHOOK_EVENTS.name, payment["id"]) == []  # the PSP never called back
    charges = psp.get("/_admin/charges", params={"reference": payment["id"]})
    assert charges.status_code == 200
    assert len(charges.json()["data"]) == 1  # the retried charge reused the first one


def test_a_psp_outage_delays_payments_but_charges_each_exactly_once(
    create_payment, wait_for_status, events_about, psp: httpx.Client, payments: httpx.Client
) -> None:
    assert psp.put("/_admin/faults", json={"down": True}).status_code in (200, 204)
    try:
        created = [create_payment("pm_card_visa") for _ in range(5)]
        time.sleep(3)  # the charger fails, retries in place, then hands over to retry tiers
        statuses = {payments.get(f"/payments/{p['id']}").json()["status"] for p in created}
        assert statuses == {"created"}  # nothing charged, nothing lost: waiting for the PSP
    finally:
        psp.delete("/_admin/faults")
    for payment in created:
        wait_for_status(payment["id"], "succeeded")
    for payment in created:
        assert _types(events_about(PAYMENT_EVENTS.name, payment["id"]))["payment.succeeded"] == 1


def test_a_killed_charger_loses_no_payment(
    create_payment, wait_for_status, events_about, eventually
) -> None:
    pid_file = Path(os.environ["AUTH_JWKS_PATH"]).parents[1] / "run" / "svc-payment-charger.pid"
    old_pid = int(pid_file.read_text().split()[0])
    created = [create_payment("pm_card_visa") for _ in range(8)]
    os.kill(old_pid, signal.SIGKILL)
    eventually(lambda: pid_file.exists() and int(pid_file.read_text().split()[0]) != old_pid)
    for payment in created:
        wait_for_status(payment["id"], "succeeded")
    for payment in created:
        counts = _types(events_about(PAYMENT_EVENTS.name, payment["id"]))
        assert counts["payment.processing"] == 1 and counts["payment.succeeded"] == 1


def test_a_refund_goes_through_the_psp(
    create_payment, wait_for_status, payments: httpx.Client, events_about, eventually
) -> None:
    payment = create_payment("pm_card_visa", amount=5000)
    wait_for_status(payment["id"], "succeeded")
    response = payments.post(
        f"/payments/{payment['id']}/refunds",
        json={"amount": 2000},
        headers={"Idempotency-Key": f"refund-{payment['id']}"},
    )
    assert response.status_code == 201, response.text
    refund = response.json()
    wait_for_status(payment["id"], "partially_refunded")

    def refund_succeeded() -> bool:
        listed = payments.get(f"/payments/{payment['id']}/refunds").json()["data"]
        return [r["status"] for r in listed] == ["succeeded"]

    eventually(refund_succeeded)
    assert payments.get(f"/payments/{payment['id']}").json()["amount_refunded"] == 2000
    types = _types(events_about(PAYMENT_EVENTS.name, payment["id"]))
    assert types["refund.requested"] == 1 and types["refund.succeeded"] == 1
    assert refund["amount"] == 2000

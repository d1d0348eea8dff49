"""The PSP's webhooks as they really arrive at the public endpoint: twice, in the wrong order,
or forged by someone without the secret. A copy changes nothing, a late contradiction is
kept and changes nothing, and a forgery is refused, logged and never becomes an event."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from e2e_clients import Merchant, Operator
from e2e_observe import Psp, Topics, WebhookSender, eventually, status_report, told, types

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS
from paykit.auth.webhook_signature import sign

pytestmark = pytest.mark.e2e


def test_a_duplicate_webhook_changes_nothing(
    merchant: Merchant, psp: Psp, operator: Operator, topics: Topics
) -> None:
    payment = merchant.create_payment(method="pm_card_duplicate_webhook")
    merchant.wait_for_status(payment["id"], "succeeded")

    eventually(
        lambda: operator.webhook_verdicts(payment["id"]) == ["accepted", "duplicate"],
        "the webhook service to accept the PSP's SUCCESS and call its copy a duplicate",
    )
    deliveries = psp.deliveries(payment["id"])
    assert [d["state"] for d in deliveries] == ["delivered", "delivered"]
    assert deliveries[0]["event_id"] == deliveries[1]["event_id"]
    [received] = topics.events(WEBHOOK_EVENTS.name, payment["id"])  # a duplicate queues nothing
    assert received.data["status"] == "succeeded"
    counted = told(topics, PAYMENT_EVENTS.name, payment["id"], "payment.succeeded")
    assert counted["payment.succeeded"] == 1


def test_a_late_contradicting_webhook_is_kept_and_changes_nothing(
    merchant: Merchant,
    topics: Topics,
    psp_reports: Callable[[Merchant, str], list[dict[str, Any]]],
) -> None:
    payment = merchant.create_payment(method="pm_card_out_of_order")
    merchant.wait_for_status(payment["id"], "succeeded")

    eventually(
        lambda: (
            [e.data["status"] for e in topics.events(WEBHOOK_EVENTS.name, payment["id"])]
            == ["succeeded", "failed"]
        ),
        "the PSP's SUCCESS and then its late FAILED on webhook-events",
    )
    [late] = eventually(
        lambda: [r for r in psp_reports(merchant, payment["id"]) if r["status"] == "failed"],
        "the payment service to judge the late FAILED",
    )

    assert late["verdict"] == "contradicted", late
    assert merchant.payment(payment["id"])["status"] == "succeeded"
    assert "payment.failed" not in types(topics.events(PAYMENT_EVENTS.name, payment["id"]))


def _forgeries(body: dict[str, Any], secret: str, tolerance: int) -> dict[str, tuple[bytes, str]]:
    """Each forgery: the bytes sent and the signature header sent with them."""
    raw = json.dumps(body).encode()
    now = int(time.time())
    tampered = json.dumps({**body, "gatewayData": {**body["gatewayData"], "amount": 1}}).encode()
    return {
        "missing_signature": (raw, ""),
        "signature_mismatch": (raw, sign(raw, "whsec_" + uuid.uuid4().hex * 2, now)),
        "timestamp_out_of_tolerance": (raw, sign(raw, secret, now - tolerance - 600)),
        "body_changed_after_signing": (tampered, sign(raw, secret, now)),
    }


def test_forged_webhooks_are_refused_logged_and_never_become_events(
    merchant: Merchant,
    psp: Psp,
    operator: Operator,
    webhooks: WebhookSender,
    topics: Topics,
    setting: Callable[[str, str], str | None],
) -> None:
    payment = merchant.create_payment(method="pm_card_declined")
    merchant.wait_for_status(payment["id"], "failed")
    [charge] = psp.charges(payment["id"])
    claim = status_report(
        payment["id"],
        "SUCCESS",
        f"evt_forged{uuid.uuid4().hex}",
        amount=3000,
        currency="EUR",
        chargeId=charge["id"],
    )
    tolerance = int(setting("webhook-web", "WEBHOOK_TOLERANCE_SECONDS") or "300")

    answers = {
        name: webhooks.send(raw, signature=signature)
        for name, (raw, signature) in _forgeries(claim, webhooks.secret, tolerance).items()
    }

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 401)
    assert {name: a.json()["reason"] for name, a in answers.items()} == {
        "missing_signature": "missing_signature",
        "signature_mismatch": "signature_mismatch",
        "timestamp_out_of_tolerance": "timestamp_out_of_tolerance",
        "body_changed_after_signing": "signature_mismatch",
    }
    for name, answer in answers.items():
        logged = operator.webhook.get(f"/admin/deliveries/{answer.json()['delivery_id']}")
        assert logged.status_code == 200, (name, logged.text)
        assert logged.json()["verdict"] == "rejected", (name, logged.json())
    assert merchant.payment(payment["id"])["status"] == "failed"
    [genuine] = topics.events(WEBHOOK_EVENTS.name, payment["id"])  # the PSP's own FAILED
    assert genuine.data["status"] == "failed"
    assert operator.webhook_verdicts(payment["id"]) == ["accepted"]

"""``POST /webhooks/psp/payouts``: the bank's payout outcomes, verified and deduplicated like
payment reports, each first one queued as one ``psp.payout_status_received`` keyed by batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from payevents import decode

PAYOUTS = "/webhooks/psp/payouts"
Body = Callable[..., dict[str, Any]]

pytestmark = pytest.mark.integration


def test_a_signed_payout_webhook_queues_one_payout_status_event_keyed_by_batch(
    psp: Any, payout_body: Body, webhook_db: Any, unique: str
) -> None:
    body = payout_body(
        type="payout.failed",
        attempt=2,
        failure_code="account_closed",
        failure_message="The beneficiary's bank account is closed.",
    )

    response = psp.post(body, path=PAYOUTS)

    assert response.status_code == 200
    assert response.json["status"] == "accepted"
    assert response.json["psp_event_id"] == f"payout.failed:po_{unique}"
    delivery = webhook_db.delivery(response.json["delivery_id"])
    assert (delivery["batch_id"], delivery["psp_reference"]) == (f"BAT_{unique}", f"po_{unique}")
    assert delivery["payment_id"] is None
    (row,) = webhook_db.outbox(f"BAT_{unique}")
    assert row["topic"] == "webhook-events"
    event = decode(bytes(row["value"]))
    assert event.type == "psp.payout_status_received"
    assert event.subject == f"BAT_{unique}"
    assert event.data == {
        "payout_id": f"po_{unique}",
        "batch_id": f"BAT_{unique}",
        "attempt": 2,
        "merchant_id": "MER_1",
        "status": "failed",
        "amount": 98_350,
        "currency": "EUR",
        "failure_code": "account_closed",
        "failure_message": "The beneficiary's bank account is closed.",
        "occurred_at": "2026-03-14T06:00:00.500000Z",
    }


def test_a_retried_payout_webhook_is_a_duplicate_that_queues_nothing(
    psp: Any, payout_body: Body, webhook_db: Any, unique: str
) -> None:
    first = psp.post(payout_body(), path=PAYOUTS)
    again = psp.post(payout_body(), path=PAYOUTS)

    assert first.json["status"] == "accepted"
    assert again.status_code == 200
    assert again.json["status"] == "duplicate"
    assert len(webhook_db.outbox(f"BAT_{unique}")) == 1
    verdicts = [d["verdict"] for d in webhook_db.deliveries(batch_id=f"BAT_{unique}")]
    assert verdicts == ["accepted", "duplicate"]


def test_a_payout_webhook_with_a_bad_signature_is_refused_and_queues_nothing(
    psp: Any, payout_body: Body, webhook_db: Any, unique: str
) -> None:
    response = psp.post(payout_body(), path=PAYOUTS, secret="whsec_forged_0123456789abcdef0123")

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_signature"
    assert webhook_db.outbox(f"BAT_{unique}") == []


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"batch_id": None}, 422, "invalid_webhook_body"),
        ({"amount": "98350"}, 422, "invalid_webhook_body"),
        ({"occurred_at": "yesterday"}, 422, "invalid_webhook_body"),
        ({"type": "payout.pending"}, 422, "unknown_event_type"),
    ],
)
def test_a_signed_payout_body_we_cannot_use_is_refused(
    psp: Any,
    payout_body: Body,
    webhook_db: Any,
    unique: str,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = psp.post(payout_body(**change), path=PAYOUTS)

    assert response.status_code == status
    assert response.json["code"] == code
    assert webhook_db.outbox(f"BAT_{unique}") == []


def test_a_payout_body_that_is_not_json_is_a_400(psp: Any) -> None:
    response = psp.post(b"{not json", path=PAYOUTS)

    assert response.status_code == 400
    assert response.json["code"] == "malformed_json"


def test_a_payment_report_sent_to_the_payout_endpoint_is_refused(
    psp: Any, payment_body: Body
) -> None:
    response = psp.post(payment_body(), path=PAYOUTS)

    assert response.status_code == 422
    assert response.json["code"] == "invalid_webhook_body"


def test_the_admin_api_shows_a_payout_delivery(
    psp: Any, payout_body: Body, admin: FlaskClient, unique: str
) -> None:
    delivery_id = psp.post(payout_body(), path=PAYOUTS).json["delivery_id"]

    shown = admin.get(f"/admin/deliveries/{delivery_id}").json or {}

    assert shown["verdict"] == "accepted"
    assert shown["event_type"] == "psp.payout_status_received"
    assert shown["batch_id"] == f"BAT_{unique}"

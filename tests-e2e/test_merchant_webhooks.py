"""Merchants told what happened: endpoints registered through the gateway, events signed the
Standard Webhooks way and verified with the standardwebhooks package by a receiver of the
journey's own on 127.0.0.1 (the cluster's ``WEBHOOK_OUTBOUND_ALLOWED_NETWORKS`` must name it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_clients import Merchant
from e2e_observe import eventually

from webhook_service.testing import Receiver

pytestmark = pytest.mark.e2e

ENDPOINTS = "/v1/webhook_endpoints"


@pytest.fixture
def receiver(setting: Callable[[str, str], str | None]) -> Iterator[Receiver]:
    allowed = setting("webhook-dispatcher", "WEBHOOK_OUTBOUND_ALLOWED_NETWORKS") or ""
    if "127.0.0.1" not in allowed:
        pytest.skip("the cluster's dispatcher may not call 127.0.0.1 (no allowlist for it)")
    made = Receiver()
    yield made
    made.down()


def _register(merchant: Merchant, url: str, *types: str) -> dict[str, Any]:
    answer = merchant.api.post(
        ENDPOINTS,
        json={"url": url, "event_types": list(types) or ["payment.succeeded", "payment.failed"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(call.body) for call in receiver.calls]


def test_a_succeeded_and_a_failed_payment_reach_the_merchant_signed_and_verifiable(
    merchant: Merchant, receiver: Receiver
) -> None:
    endpoint = _register(merchant, receiver.url)

    paid = merchant.create_payment(method="pm_card_visa")
    declined = merchant.create_payment(method="pm_card_declined")

    told = eventually(
        lambda: (
            {e["data"]["payment_id"]: e["type"] for e in _events(receiver)}
            if len(receiver.calls) >= 2
            else None
        ),
        "both payments' webhooks",
    )
    assert told == {paid["id"]: "payment.succeeded", declined["id"]: "payment.failed"}
    assert all(call.verifies_with(endpoint["secret"]) for call in receiver.calls)
    assert len(set(receiver.ids())) == 2
    log = merchant.api.get(f"{ENDPOINTS}/{endpoint['id']}/attempts").json()["data"]
    assert {a["outcome"] for a in log} == {"succeeded"}


def test_registration_refuses_targets_the_platform_must_not_call_and_hides_other_merchants(
    merchant: Merchant, new_merchant: Callable[[], Merchant], receiver: Receiver
) -> None:
    for url in (
        "http://127.0.0.2:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hooks",
    ):
        refused = merchant.api.post(
            ENDPOINTS,
            json={"url": url, "event_types": ["payment.succeeded"]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "target_not_allowed")
    endpoint = _register(merchant, receiver.url)

    other = new_merchant()
    assert other.api.get(f"{ENDPOINTS}/{endpoint['id']}").status_code == 404
    assert other.api.get(ENDPOINTS).json()["data"] == []


def test_an_endpoint_down_while_payments_succeed_gets_each_of_them_once_back(
    merchant: Merchant, receiver: Receiver
) -> None:
    endpoint = _register(merchant, receiver.url, "payment.succeeded")
    receiver.down()
    payments = [merchant.create_payment(method="pm_card_visa")["id"] for _ in range(3)]
    path = f"{ENDPOINTS}/{endpoint['id']}/attempts"

    def refused_messages() -> int:
        log = merchant.api.get(path).json()["data"]
        return len({a["message_id"] for a in log if a["error"] == "connection_failed"})

    eventually(lambda: refused_messages() == 3, "a refused attempt for each payment")

    receiver.up()

    eventually(lambda: len(set(receiver.ids())) == 3, "every payment delivered once back")
    assert {e["data"]["payment_id"] for e in _events(receiver)} == set(payments)
    assert all(call.verifies_with(endpoint["secret"]) for call in receiver.calls)

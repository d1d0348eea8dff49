"""Webhooks delivered by real senders to a real local receiver that checks signatures."""

import itertools
import time

import pytest
import redis
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.adapters.redis_deliveries import RedisDeliveryQueue
from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.domain.delivery import AttemptResult, DeliveryState, RetryPolicy
from psp_simulator.testing import (
    AppFactory,
    ChargeMaker,
    SenderRunner,
    WebhookReceiver,
    admin_deliveries,
)

pytestmark = pytest.mark.integration


def all_delivered(client: FlaskClient, reference: str, count: int) -> bool:
    found = admin_deliveries(client, reference)
    return len(found) == count and all(d["state"] == "delivered" for d in found)


def test_success_is_delivered_once_signed_with_the_first_secret(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    charge = make_charge("pm_card_visa")
    reference = charge["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 1), 10, 0.05)
    [webhook] = receiver.received(reference)
    assert webhook.signature_valid
    assert webhook.content_type == "application/json"
    assert webhook.event == {
        "id": webhook.event["id"],
        "type": "payment.status",
        "paymentRef": reference,
        "status": "SUCCESS",
        "gatewayData": {
            "amount": 3000,
            "currency": "EUR",
            "chargeId": charge["id"],
            "failureCode": None,
        },
    }
    [delivery] = admin_deliveries(client, reference)
    assert delivery["event_id"] == webhook.event["id"]
    assert delivery["body"] == webhook.event
    assert delivery["attempts"] == 1
    assert [entry["status_code"] for entry in delivery["attempt_log"]] == [200]


@pytest.mark.parametrize(
    ("payment_method", "failure_code"),
    [("pm_card_declined", "card_declined"), ("pm_card_insufficient_funds", "insufficient_funds")],
)
def test_failure_is_delivered_with_its_code(
    client: FlaskClient,
    make_charge: ChargeMaker,
    receiver: WebhookReceiver,
    senders: SenderRunner,
    payment_method: str,
    failure_code: str,
) -> None:
    senders.start()
    reference = make_charge(payment_method)["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 1), 10, 0.05)
    [webhook] = receiver.received(reference)
    assert webhook.event["status"] == "FAILED"
    assert webhook.event["gatewayData"]["failureCode"] == failure_code


def test_duplicate_token_delivers_the_same_event_twice(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    reference = make_charge("pm_card_duplicate_webhook")["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 2), 10, 0.05)
    first, second = receiver.received(reference)
    assert first.body == second.body
    assert first.event["id"] == second.event["id"]
    assert first.signature_valid and second.signature_valid


def test_out_of_order_token_delivers_success_then_a_contradicting_failure(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    charge = make_charge("pm_card_out_of_order")
    reference = charge["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 2), 10, 0.05)
    success, failure = receiver.received(reference)
    assert (success.event["status"], failure.event["status"]) == ("SUCCESS", "FAILED")
    assert success.event["id"] != failure.event["id"]
    assert failure.event["gatewayData"]["chargeId"] == charge["id"]
    assert (client.get(f"/charges/{charge['id']}").json or {})["status"] == "succeeded"


def test_slow_webhook_arrives_seconds_after_the_charge_settled(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    created_at = time.time()
    charge = make_charge("pm_card_slow_webhook")
    time.sleep(0.3)
    assert (client.get(f"/charges/{charge['id']}").json or {})["status"] == "succeeded"
    assert receiver.received(charge["reference"]) == []
    assert wait_until(lambda: all_delivered(client, charge["reference"], 1), 10, 0.05)
    [webhook] = receiver.received(charge["reference"])
    assert webhook.at - created_at >= 1.0  # outcome delay + slow delay of the test settings


def test_timeout_token_never_sends_a_webhook(
    client: FlaskClient, make_app: AppFactory, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    make_app.stopping.set()  # no need to wait for the held-back answer here
    response = client.post(
        "/charges",
        json={
            "amount": 100,
            "currency": "EUR",
            "payment_method": "pm_card_timeout",
            "reference": "PAY_timeout",
        },
        headers={"Idempotency-Key": "timeout-1"},
    )
    assert response.status_code == 201
    time.sleep(1.0)
    assert receiver.received("PAY_timeout") == []
    assert admin_deliveries(client, "PAY_timeout") == []


def test_refund_outcome_is_delivered(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    charge = make_charge()
    reference = charge["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 1), 10, 0.05)
    refund = client.post(
        "/refunds",
        json={"charge_id": charge["id"], "amount": 1200, "reference": "RFD_77"},
        headers={"Idempotency-Key": "refund-77"},
    ).json
    assert refund is not None
    assert wait_until(lambda: all_delivered(client, reference, 2), 10, 0.05)
    refund_webhook = receiver.received(reference)[-1]
    assert refund_webhook.signature_valid
    assert refund_webhook.event == {
        "id": refund_webhook.event["id"],
        "type": "refund.status",
        "paymentRef": reference,
        "refundRef": "RFD_77",
        "status": "SUCCESS",
        "gatewayData": {
            "amount": 1200,
            "currency": "EUR",
            "chargeId": charge["id"],
            "refundId": refund["id"],
        },
    }


def test_refused_webhook_is_retried_with_backoff_until_accepted(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    receiver.answers = [500, 500]
    senders.start()
    reference = make_charge()["reference"]
    assert wait_until(lambda: all_delivered(client, reference, 1), 10, 0.05)
    time.sleep(0.5)  # long enough for a wrong extra attempt to show
    attempts = receiver.received(reference)
    assert [a.answered for a in attempts] == [500, 500, 200]
    assert len({a.body for a in attempts}) == 1
    assert all(a.signature_valid for a in attempts)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # base 0.1 s, doubling, no jitter in the tests
    [delivery] = admin_deliveries(client, reference)
    assert delivery["attempts"] == 3
    assert [e["status_code"] for e in delivery["attempt_log"]] == [500, 500, 200]
    assert delivery["delivered_at"] is not None


def test_unreachable_receiver_is_retried_and_the_error_recorded(
    client: FlaskClient, make_charge: ChargeMaker, senders: SenderRunner
) -> None:
    senders.start(webhook_url="http://127.0.0.1:9/webhooks/psp")
    reference = make_charge()["reference"]
    assert wait_until(lambda: admin_deliveries(client, reference)[0]["attempts"] >= 2, 10, 0.05)
    [delivery] = admin_deliveries(client, reference)
    assert delivery["state"] in {"scheduled", "delivering"}
    assert delivery["attempt_log"][0]["status_code"] is None
    assert "ConnectError" in delivery["attempt_log"][0]["error"]


def test_delivery_is_given_up_once_the_horizon_is_reached(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    receiver.always = 503
    senders.start(retry=RetryPolicy(base_seconds=0.1, cap_seconds=0.2, horizon_seconds=0.5))
    reference = make_charge()["reference"]
    assert wait_until(lambda: admin_deliveries(client, reference)[0]["state"] == "dead", 10, 0.05)
    attempts = len(receiver.received(reference))
    time.sleep(0.5)
    assert len(receiver.received(reference)) == attempts  # no attempt after giving up
    [delivery] = admin_deliveries(client, reference)
    # Attempts at about 0, 0.1 and 0.3 s (and 0.5 s if the first went out on the dot); the
    # next would be past the 0.5 s horizon.
    assert delivery["attempts"] == attempts
    assert 3 <= attempts <= 4
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 503
    dead = client.get("/_admin/deliveries?state=dead").json
    assert dead is not None and [d["id"] for d in dead["data"]] == [delivery["id"]]


def test_several_senders_deliver_each_webhook_exactly_once(
    client: FlaskClient, make_charge: ChargeMaker, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    references = [make_charge()["reference"] for _ in range(30)]
    senders.start(count=4)
    assert wait_until(lambda: len(receiver.received()) >= 30, 15, 0.05)
    time.sleep(0.3)
    received = receiver.received()
    assert sorted(w.event["paymentRef"] for w in received) == sorted(references)
    assert all(all_delivered(client, reference, 1) for reference in references)


def test_expired_claim_passes_to_another_sender_and_the_first_cannot_record(
    redis_client: redis.Redis, client: FlaskClient, make_charge: ChargeMaker, key_prefix: str
) -> None:
    reference = make_charge()["reference"]
    queue = RedisDeliveryQueue(redis_client, KeySpace(key_prefix))
    now = time.time() + 1  # past the outcome delay
    first = queue.claim(now=now, lease_until=now + 5)
    assert first is not None
    assert queue.claim(now=now + 1, lease_until=now + 6) is None  # held by the first
    second = queue.claim(now=now + 5, lease_until=now + 10)  # the first's lease ran out
    assert second is not None and second.id == first.id and second.attempts == 2
    lost = queue.finish(
        first,
        result=AttemptResult(status_code=200),
        state=DeliveryState.DELIVERED,
        next_attempt_at=None,
        now=now + 6,
    )
    assert not lost
    assert queue.finish(
        second,
        result=AttemptResult(status_code=200),
        state=DeliveryState.DELIVERED,
        next_attempt_at=None,
        now=now + 6,
    )
    [delivery] = admin_deliveries(client, reference)
    assert (delivery["state"], delivery["attempts"], len(delivery["attempt_log"])) == (
        "delivered",
        2,
        1,
    )

"""The outcome table: what each test token does, and the webhooks it sends. No I/O."""

import itertools
import json

import pytest

from psp_simulator.domain.charges import Charge, Status
from psp_simulator.domain.errors import UnknownPaymentMethod
from psp_simulator.domain.outcomes import OUTCOMES, Timings, outcome_for, plan_charge_webhooks
from psp_simulator.domain.webhooks import Webhook

TIMINGS = Timings(outcome_delay=0.2, response_delay=30, slow_webhook_delay=5, late_webhook_delay=1)
CREATED_AT = 1_700_000_000.0


def plan(payment_method: str) -> tuple[Charge, tuple[Webhook, ...]]:
    outcome = outcome_for(payment_method)
    charge = Charge(
        id="ch_1",
        reference="PAY_1",
        amount=3000,
        currency="EUR",
        payment_method=payment_method,
        outcome=outcome.status,
        failure_code=outcome.failure_code,
        created_at=CREATED_AT,
        settles_at=CREATED_AT + TIMINGS.outcome_delay,
    )
    counter = itertools.count(1)
    webhooks = plan_charge_webhooks(
        charge, outcome, TIMINGS, lambda prefix: f"{prefix}_{next(counter)}"
    )
    return charge, webhooks


def events(webhooks: tuple[Webhook, ...]) -> list[dict[str, object]]:
    return [json.loads(webhook.body) for webhook in webhooks]


@pytest.mark.parametrize(
    ("payment_method", "status", "failure_code"),
    [
        ("pm_card_visa", Status.SUCCEEDED, None),
        ("pm_card_declined", Status.FAILED, "card_declined"),
        ("pm_card_insufficient_funds", Status.FAILED, "insufficient_funds"),
        ("pm_card_timeout", Status.SUCCEEDED, None),
        ("pm_card_duplicate_webhook", Status.SUCCEEDED, None),
        ("pm_card_out_of_order", Status.SUCCEEDED, None),
        ("pm_card_early_failure", Status.SUCCEEDED, None),
        ("pm_card_slow_webhook", Status.SUCCEEDED, None),
    ],
)
def test_each_token_has_its_documented_outcome(
    payment_method: str, status: Status, failure_code: str | None
) -> None:
    outcome = outcome_for(payment_method)
    assert (outcome.status, outcome.failure_code) == (status, failure_code)


def test_only_the_documented_tokens_exist() -> None:
    assert set(OUTCOMES) == {
        "pm_card_visa",
        "pm_card_declined",
        "pm_card_insufficient_funds",
        "pm_card_timeout",
        "pm_card_duplicate_webhook",
        "pm_card_out_of_order",
        "pm_card_early_failure",
        "pm_card_slow_webhook",
    }


@pytest.mark.parametrize("token", ["pm_card_mastercard", "pm_card_", "visa", "PM_CARD_VISA", ""])
def test_unknown_token_is_refused(token: str) -> None:
    with pytest.raises(UnknownPaymentMethod):
        outcome_for(token)


def test_success_sends_one_success_webhook_with_the_exact_body_when_the_outcome_is_due() -> None:
    charge, webhooks = plan("pm_card_visa")
    assert len(webhooks) == 1
    assert webhooks[0].due_at == charge.settles_at
    assert webhooks[0].body == (
        b'{"id":"evt_1","type":"payment.status","paymentRef":"PAY_1","status":"SUCCESS",'
        b'"gatewayData":{"amount":3000,"currency":"EUR","chargeId":"ch_1","failureCode":null}}'
    )


@pytest.mark.parametrize(
    ("payment_method", "failure_code"),
    [("pm_card_declined", "card_declined"), ("pm_card_insufficient_funds", "insufficient_funds")],
)
def test_failure_sends_one_failed_webhook_with_its_code(
    payment_method: str, failure_code: str
) -> None:
    _, webhooks = plan(payment_method)
    [event] = events(webhooks)
    assert event["status"] == "FAILED"
    assert event["gatewayData"] == {
        "amount": 3000,
        "currency": "EUR",
        "chargeId": "ch_1",
        "failureCode": failure_code,
    }


def test_timeout_sends_no_webhook_and_holds_the_response_back() -> None:
    _, webhooks = plan("pm_card_timeout")
    assert webhooks == ()
    assert outcome_for("pm_card_timeout").delays_response
    assert not any(o.delays_response for t, o in OUTCOMES.items() if t != "pm_card_timeout")


def test_duplicate_sends_the_same_event_twice_byte_for_byte() -> None:
    _, webhooks = plan("pm_card_duplicate_webhook")
    first, second = webhooks
    assert first.delivery_id != second.delivery_id
    assert first.event_id == second.event_id
    assert first.body == second.body
    assert first.due_at == second.due_at


def test_out_of_order_sends_success_then_a_later_contradicting_failure() -> None:
    charge, webhooks = plan("pm_card_out_of_order")
    success, failure = webhooks
    assert [e["status"] for e in events(webhooks)] == ["SUCCESS", "FAILED"]
    assert success.event_id != failure.event_id
    assert failure.due_at == charge.settles_at + TIMINGS.late_webhook_delay > success.due_at
    assert {e["paymentRef"] for e in events(webhooks)} == {"PAY_1"}


def test_early_failure_reports_failed_first_then_the_success_the_charge_is() -> None:
    charge, webhooks = plan("pm_card_early_failure")
    failure, success = webhooks
    assert [e["status"] for e in events(webhooks)] == ["FAILED", "SUCCESS"]
    assert json.loads(failure.body)["gatewayData"]["failureCode"] == "card_declined"
    assert failure.due_at == charge.settles_at < success.due_at
    assert charge.outcome is Status.SUCCEEDED


def test_slow_webhook_is_due_well_after_the_outcome() -> None:
    charge, webhooks = plan("pm_card_slow_webhook")
    [webhook] = webhooks
    assert webhook.due_at == charge.settles_at + TIMINGS.slow_webhook_delay
    assert events(webhooks)[0]["status"] == "SUCCESS"


def test_every_event_gets_a_fresh_id_per_charge() -> None:
    _, first = plan("pm_card_visa")
    assert first[0].event_id.startswith("evt_")
    assert first[0].delivery_id.startswith("dlv_")

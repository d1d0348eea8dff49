"""The operators' pages in the browser: a dead letter replayed once its cause is fixed, the
trial balance, ledger verify and a day's reconciliation. Every page passes axe-core."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By

from localcluster.testing import ClusterEnv
from payevents import encode, new_event
from payevents.topics import PAYMENT_EVENTS
from paykit.consumer.routing import Failure, route_failure
from paykit.kafka_clients import create_producer
from paykit.testing import wait_until

from .conftest import TIMEOUT, Dashboard, Merchant

pytestmark = pytest.mark.e2e

LEDGER_POSTER = "ledger-poster"


def _dead_letter_a_payment(cluster: ClusterEnv, merchant: Merchant, amount: int) -> str:
    """A ``payment.succeeded`` the ledger's poster once dead-lettered (say, a deploy that could
    not read it), now readable again: it is what replaying it should post."""
    payment_id = f"PAY_dlq{uuid.uuid4().hex[:16]}"
    event = new_event(
        "payment.succeeded",
        {
            "payment_id": payment_id,
            "merchant_id": merchant.merchant_id,
            "amount": amount,
            "currency": "EUR",
        },
        source="payment-service",
        subject=payment_id,
    )
    value, headers = encode(event)
    route = route_failure(
        PAYMENT_EVENTS,
        LEDGER_POSTER,
        (),
        record_topic=PAYMENT_EVENTS.name,
        partition=0,
        offset=0,
        headers=headers,
        failure=Failure("invalid", ValueError("unknown field 'psp_reference'")),
    )
    producer = create_producer(cluster.bootstrap_servers, client_id=f"dashboard-{payment_id}")
    try:
        producer.send(route.topic, key=payment_id.encode(), value=value, headers=route.headers).get(
            timeout=10
        )
    finally:
        producer.close()
    return payment_id


def test_the_dead_letter_page_replays_a_fixed_poison_event(
    browser: Dashboard,
    make_merchant: Callable[[str], Merchant],
    operator_token: str,
    cluster: ClusterEnv,
) -> None:
    merchant = make_merchant("Replay")
    payment_id = _dead_letter_a_payment(cluster, merchant, amount=2500)
    dlq_topic = PAYMENT_EVENTS.dlq_topic(LEDGER_POSTER)

    browser.sign_in_as_operator(operator_token)
    queue_row = browser.driver.find_element(By.XPATH, f"//tr[td//code[text()='{dlq_topic}']]")
    assert queue_row.find_element(By.CSS_SELECTOR, "td.num").text.isdigit()
    browser.driver.find_element(By.LINK_TEXT, dlq_topic).click()
    browser.check_accessibility()
    row = browser.driver.find_element(By.XPATH, f"//tr[td//code[text()='{payment_id}']]")
    assert "unknown field 'psp_reference'" in row.text and "invalid" in row.text
    spot = str(row.get_attribute("data-spot"))
    row.find_element(By.TAG_NAME, "a").click()
    browser.check_accessibility()
    assert browser.heading() == f"Letter {spot}"
    assert payment_id in browser.text() and "payment.succeeded" in browser.text()
    assert merchant.balance()["escrow"] == 0

    browser.press(f"Replay this letter to {PAYMENT_EVENTS.name}")
    assert f"Replayed 1 message(s) to {PAYMENT_EVENTS.name} (letter {spot})" in browser.text()
    assert wait_until(lambda: merchant.balance()["escrow"] > 0, timeout=TIMEOUT)
    assert 0 < merchant.balance()["escrow"] <= 2500


def test_the_ledger_and_reconciliation_pages_show_what_payctl_shows(
    browser: Dashboard, operator_token: str
) -> None:
    browser.sign_in_as_operator(operator_token)
    browser.open("/admin/ledger")
    assert "Balanced: debits equal credits in every currency." in browser.text()
    browser.press("Verify now")
    assert "Ledger verified." in browser.text(), browser.text()
    browser.open("/admin/reconciliation")
    browser.press("Reconcile")
    verdict = browser.driver.find_element(By.CSS_SELECTOR, "p.verdict")
    assert verdict.text.endswith(("matched", "discrepancies")), verdict.text
    assert "settlement vs ledger" in browser.text()

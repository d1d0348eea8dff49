"""A merchant's dashboard in the browser: payments and their timeline, a refund, isolation,
CSRF and sign-out. Every page these tests open passes axe-core's serious and critical rules."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from selenium.webdriver.common.by import By

from dashboard_service.domain.money import format_amount
from paykit.testing import wait_until

from .conftest import TIMEOUT, Dashboard, Merchant

pytestmark = pytest.mark.e2e


def _step_done(browser: Dashboard, name: str) -> bool:
    found = browser.driver.find_elements(By.CSS_SELECTOR, f"li[data-step='{name}']")
    return bool(found) and "step-done" in (found[0].get_attribute("class") or "")


def _posted(merchant: Merchant, payment_id: str) -> Callable[[], bool]:
    def probe() -> bool:
        return merchant.payment(payment_id)["status"] == "succeeded" and (
            merchant.balance()["escrow"] > 0
        )

    return probe


def _run_settlement(operator_token: str) -> None:
    answer = httpx.post(
        f"{os.environ['SETTLEMENT_URL']}/settlements/run",
        json={"cutoff": datetime.now(UTC).isoformat()},
        headers={"Authorization": f"Bearer {operator_token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_a_payment_made_through_the_api_is_listed_and_its_timeline_reaches_posted(
    browser: Dashboard, make_merchant: Callable[[str], Merchant], operator_token: str
) -> None:
    merchant = make_merchant("Timeline")
    payment = merchant.create_payment(amount=4200)
    browser.sign_in(merchant)
    assert payment["id"] in browser.text()
    browser.driver.find_element(By.LINK_TEXT, payment["id"]).click()
    browser.check_accessibility()
    assert browser.heading() == f"Payment {payment['id']}"
    path = f"/payments/{payment['id']}"
    browser.eventually(path, lambda: _step_done(browser, "succeeded"), "succeeded")
    assert wait_until(_posted(merchant, payment["id"]), timeout=TIMEOUT)

    def batched() -> bool:  # a run closes what the ledger posted and settlement itemised
        _run_settlement(operator_token)
        browser.driver.get(f"{browser.base_url}{path}")
        return _step_done(browser, "in a settlement batch")

    assert wait_until(batched, timeout=TIMEOUT, interval=1.0), browser.text()
    browser.check_accessibility()
    assert _step_done(browser, "posted to the ledger"), browser.text()
    posted = browser.driver.find_element(By.CSS_SELECTOR, "li[data-step='posted to the ledger']")
    assert "transaction ltx_" in posted.text
    browser.screenshot("timeline_reaches_posted_and_batched")

    browser.driver.find_element(By.CSS_SELECTOR, "li[data-step='in a settlement batch'] a").click()
    browser.check_accessibility()
    assert browser.heading().startswith("Batch stb_")
    assert payment["id"] in browser.text()
    csv_link = browser.driver.find_element(By.PARTIAL_LINK_TEXT, "Download the report")
    report = httpx.get(
        str(csv_link.get_attribute("href")),
        cookies={c["name"]: c["value"] for c in browser.driver.get_cookies()},
        timeout=15,
    )
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert payment["id"] in report.text
    browser.open("/settlements")
    assert "Settlement batches" in browser.text()


def test_a_partial_refund_made_in_the_browser_shows_in_the_payment_and_the_balances(
    browser: Dashboard, make_merchant: Callable[[str], Merchant]
) -> None:
    merchant = make_merchant("Refunds")
    payment = merchant.create_payment(amount=5000)
    assert wait_until(_posted(merchant, payment["id"]), timeout=TIMEOUT)
    escrow_before = merchant.balance()["escrow"]
    browser.sign_in(merchant)
    browser.open(f"/payments/{payment['id']}")
    browser.fill("amount", "12.50")
    browser.fill("reason", "one cup returned")
    browser.press("Continue")
    assert browser.heading() == "Confirm the refund"
    assert "Refund 12.50 EUR of payment" in browser.text()
    browser.press("Refund 12.50 EUR")
    assert "Refund of 12.50 EUR sent" in browser.text()

    path = f"/payments/{payment['id']}"
    browser.eventually(
        path, lambda: "partially refunded" in browser.text(), "the payment partially refunded"
    )
    refunds = browser.driver.find_element(By.XPATH, "//caption[starts-with(., 'Refunds')]/..")
    assert "12.50 EUR" in refunds.text and "one cup returned" in refunds.text
    expected = format_amount(escrow_before - 1250, "EUR")

    def escrow_shown() -> bool:
        cells = browser.driver.find_elements(
            By.CSS_SELECTOR, "tr[data-currency='EUR'] td[data-account='escrow']"
        )
        return bool(cells) and cells[0].text == expected

    browser.eventually("/balances", escrow_shown, f"escrow of {expected}")
    assert merchant.balance()["escrow"] == escrow_before - 1250
    assert "Daily volume and payouts" in browser.text()
    assert browser.driver.find_elements(By.CSS_SELECTOR, "figure.chart svg rect.bar-volume")


def test_another_merchants_payment_is_not_found(
    browser: Dashboard, make_merchant: Callable[[str], Merchant]
) -> None:
    owner, other = make_merchant("Owner"), make_merchant("Other")
    payment = owner.create_payment()
    browser.sign_in(other)
    browser.open(f"/payments/{payment['id']}")
    assert browser.heading() == "Not found"
    assert "Nothing was found here" in browser.text()
    assert "Timeline" not in browser.text() and "30.00 EUR" not in browser.text()
    as_other = httpx.get(
        f"{browser.base_url}/payments/{payment['id']}",
        cookies={c["name"]: c["value"] for c in browser.driver.get_cookies()},
        timeout=15,
    )
    assert as_other.status_code == 404
    browser.open("/payments")
    assert payment["id"] not in browser.text()


def test_a_form_posted_without_its_csrf_token_is_refused(
    browser: Dashboard, make_merchant: Callable[[str], Merchant]
) -> None:
    merchant = make_merchant("Csrf")
    payment = merchant.create_payment(amount=2000)
    assert wait_until(_posted(merchant, payment["id"]), timeout=TIMEOUT)
    browser.sign_in(merchant)
    browser.open(f"/payments/{payment['id']}")
    browser.fill("amount", "5.00")
    browser.press("Continue")
    browser.driver.execute_script(
        "document.querySelectorAll('main input[name=csrf_token]').forEach(e => e.remove());"
    )
    browser.press("Refund 5.00 EUR")
    assert browser.heading() == "Form refused"
    assert "without this dashboard's security token" in browser.text()
    assert merchant.get(f"/v1/payments/{payment['id']}/refunds")["data"] == []
    assert merchant.payment(payment["id"])["amount_refunded"] == 0


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(
    browser: Dashboard, make_merchant: Callable[[str], Merchant]
) -> None:
    merchant = make_merchant("SignOut")
    browser.open("/sign-in")
    browser.fill("client_id", merchant.client_id)
    browser.fill("client_secret", "sk_test_not_the_secret")
    browser.press("Sign in")
    assert "That client ID and secret were not accepted" in browser.text()
    browser.sign_in(merchant)
    session = browser.driver.get_cookie("dashboard_session")
    assert session is not None
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"

    browser.sign_out()
    assert browser.heading() == "Sign in"
    assert "You are signed out." in browser.text()
    browser.open("/payments")
    assert browser.heading() == "Sign in"
    browser.driver.delete_all_cookies()
    browser.driver.add_cookie({"name": "dashboard_session", "value": session["value"]})
    browser.open("/balances")
    assert browser.heading() == "Sign in"
    replayed = httpx.get(
        f"{browser.base_url}/payments",
        cookies={"dashboard_session": session["value"]},
        timeout=15,
    )
    assert replayed.status_code == 302
    assert "/sign-in" in replayed.headers["location"]

"""What the platform says about a payment or refund converges to what the PSP did.

Journeys on the running cluster through public HTTP, signed webhooks and observable events: a
report that is missing a field, contradicts what the platform holds, or cannot be verified is
confirmed with the PSP's own record before it changes anything; a PSP that hangs delays no one
else and charges nothing twice.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope, decode
from payevents.topics import PAYMENT_EVENTS
from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.testing import read_topic

pytestmark = pytest.mark.e2e

CHARGER_DLQ = PAYMENT_EVENTS.dlq_topic("payment-psp-charger")
PSP_TIMEOUT = float(os.environ.get("PAYMENT_PSP_TIMEOUT_SECONDS", "2"))
CLUSTER_DIR = Path(os.environ["AUTH_JWKS_PATH"]).parents[1]


def _types(envelopes: list[Any]) -> Counter[str]:
    return Counter(envelope.type for envelope in envelopes)


@pytest.fixture
def psp_faults(psp: httpx.Client) -> Iterator[Callable[..., dict[str, Any]]]:
    """Sets the PSP's faults for the test; they are cleared however it ends."""

    def put(**faults: Any) -> dict[str, Any]:
        response = psp.put("/_admin/faults", json=faults)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    yield put
    psp.delete("/_admin/faults")


@pytest.fixture
def send_webhook() -> Iterator[Callable[[dict[str, Any]], httpx.Response]]:
    """POSTs a body signed with the PSP's secret, as the PSP would."""
    secret = os.environ["PSP_WEBHOOK_SECRETS"].split(",")[0]
    with httpx.Client(timeout=10) as client:

        def send(body: dict[str, Any]) -> httpx.Response:
            raw = json.dumps(body).encode()
            signature = sign(raw, secret, int(time.time()))
            return client.post(
                os.environ["PSP_WEBHOOK_URL"],
                content=raw,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
            )

        yield send


@pytest.fixture
def reports_of(payments: httpx.Client) -> Callable[[str], list[dict[str, Any]]]:
    def reports(payment_id: str) -> list[dict[str, Any]]:
        response = payments.get(f"/payments/{payment_id}/reports")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    return reports


def charge_of(psp: httpx.Client, payment_id: str) -> list[dict[str, Any]]:
    charges: list[dict[str, Any]] = psp.get(
        "/_admin/charges", params={"reference": payment_id}
    ).json()["data"]
    return charges


def status_report(payment_id: str, status: str, **gateway: Any) -> dict[str, Any]:
    return {
        "id": f"evt_e2e{uuid.uuid4().hex}",
        "type": "payment.status",
        "paymentRef": payment_id,
        "status": status,
        "gatewayData": gateway,
    }


def test_a_failure_reported_before_the_success_ends_succeeded_and_refundable(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    events_about: Callable[[str, str], list[Envelope]],
    psp: httpx.Client,
    payments: httpx.Client,
    eventually: Callable[..., Any],
) -> None:
    payment = create_payment("pm_card_early_failure")

    def both_reports_delivered() -> bool:
        deliveries = psp.get("/_admin/deliveries", params={"reference": payment["id"]}).json()
        return [d["state"] for d in deliveries["data"]] == ["delivered", "delivered"]

    eventually(both_reports_delivered)
    wait_for_status(payment["id"], "succeeded")
    refund = payments.post(
        f"/payments/{payment['id']}/refunds",
        json={"amount": 1000},
        headers={"Idempotency-Key": f"refund-{payment['id']}"},
    )
    assert refund.status_code == 201, refund.text
    wait_for_status(payment["id"], "partially_refunded")

    events = events_about(PAYMENT_EVENTS.name, payment["id"])
    succeeded = [e for e in events if e.type == "payment.succeeded"]
    assert len(succeeded) == 1
    if _types(events)["payment.failed"]:  # the failure was applied first: it was corrected
        assert succeeded[0].data["corrected_from"] == "failed"


def test_a_signed_success_for_a_declined_card_ends_failed_as_the_psp_says(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    events_about: Callable[[str, str], list[Envelope]],
    psp: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    send_webhook: Callable[[dict[str, Any]], httpx.Response],
    reports_of: Callable[[str], list[dict[str, Any]]],
    eventually: Callable[..., Any],
) -> None:
    psp_faults(silent=True)  # the PSP's own FAILED never comes: only its record can tell
    payment = create_payment("pm_card_declined")
    wait_for_status(payment["id"], "processing")
    [charge] = charge_of(psp, payment["id"])

    answer = send_webhook(
        status_report(payment["id"], "SUCCESS", amount=3000, currency="EUR", chargeId=charge["id"])
    )
    assert answer.status_code < 300, answer.text
    eventually(lambda: reports_of(payment["id"]))  # the report was judged
    failed = wait_for_status(payment["id"], "failed")

    assert failed["failure_code"] == "card_declined"
    events = events_about(PAYMENT_EVENTS.name, payment["id"])
    assert events[-1].type == "payment.failed"
    if _types(events)["payment.succeeded"]:  # the report was applied first: it was corrected
        assert events[-1].data["corrected_from"] == "succeeded"


def test_a_signed_success_for_a_payment_already_failed_changes_nothing(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    events_about: Callable[[str, str], list[Envelope]],
    psp: httpx.Client,
    payments: httpx.Client,
    send_webhook: Callable[[dict[str, Any]], httpx.Response],
    reports_of: Callable[[str], list[dict[str, Any]]],
    eventually: Callable[..., Any],
) -> None:
    payment = create_payment("pm_card_declined")
    wait_for_status(payment["id"], "failed")
    [charge] = charge_of(psp, payment["id"])

    answer = send_webhook(
        status_report(payment["id"], "SUCCESS", amount=3000, currency="EUR", chargeId=charge["id"])
    )
    assert answer.status_code < 300, answer.text

    def contradiction_kept() -> list[dict[str, Any]]:
        return [r for r in reports_of(payment["id"]) if r["status"] == "succeeded"]

    [kept] = eventually(contradiction_kept)
    assert (kept["verdict"], kept["reason"]) == (
        "contradicted",
        "reports succeeded, the payment is failed",
    )

    def rechecked_at_the_psp() -> bool:  # the janitor's look touches the payment
        now = payments.get(f"/payments/{payment['id']}").json()
        return bool(now["updated_at"] > kept["recorded_at"])

    eventually(rechecked_at_the_psp)
    assert payments.get(f"/payments/{payment['id']}").json()["status"] == "failed"
    assert "payment.succeeded" not in _types(events_about(PAYMENT_EVENTS.name, payment["id"]))


def test_a_report_in_another_currency_changes_nothing_and_is_kept_with_the_reason(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    events_about: Callable[[str, str], list[Envelope]],
    payments: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    send_webhook: Callable[[dict[str, Any]], httpx.Response],
    reports_of: Callable[[str], list[dict[str, Any]]],
    eventually: Callable[..., Any],
) -> None:
    psp_faults(down=True)  # the PSP cannot settle it meanwhile: only the report could
    payment = create_payment("pm_card_visa")

    answer = send_webhook(
        status_report(payment["id"], "SUCCESS", amount=3000, currency="JPY", chargeId="ch_x")
    )
    assert answer.status_code < 300, answer.text
    [kept] = eventually(lambda: reports_of(payment["id"]))

    assert kept["verdict"] == "contradicted"
    assert "currency JPY is not the EUR we hold" in kept["reason"]
    unchanged = payments.get(f"/payments/{payment['id']}").json()
    assert (unchanged["status"], unchanged["currency"]) == ("created", "EUR")

    psp_faults()  # the PSP is back: its own record settles the payment, in euros
    done = wait_for_status(payment["id"], "succeeded")
    assert (done["amount"], done["currency"]) == (3000, "EUR")
    assert _types(events_about(PAYMENT_EVENTS.name, payment["id"]))["payment.succeeded"] == 1


def test_a_legacy_report_without_an_amount_is_applied_only_once_the_psp_confirms(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    payments: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    send_webhook: Callable[[dict[str, Any]], httpx.Response],
    reports_of: Callable[[str], list[dict[str, Any]]],
    eventually: Callable[..., Any],
) -> None:
    psp_faults(down=True)
    payment = create_payment("pm_card_visa")

    legacy = {"paymentRef": payment["id"], "status": "SUCCESS", "gatewayData": {}}
    answer = send_webhook(legacy)
    assert answer.status_code < 300, answer.text
    [kept] = eventually(lambda: reports_of(payment["id"]))

    assert (kept["verdict"], kept["reason"]) == (
        "unconfirmed",
        "the report lacks amount, currency, charge",
    )
    assert payments.get(f"/payments/{payment['id']}").json()["status"] == "created"

    psp_faults()
    wait_for_status(payment["id"], "succeeded")


def test_a_refund_whose_psp_outcome_never_comes_is_completed_by_the_janitor(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    payments: httpx.Client,
    psp: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    eventually: Callable[..., Any],
) -> None:
    payment = create_payment("pm_card_visa", amount=5000)
    wait_for_status(payment["id"], "succeeded")
    psp_faults(silent=True)  # no webhook will ever say how the refund went

    refund = payments.post(
        f"/payments/{payment['id']}/refunds",
        json={"amount": 2000},
        headers={"Idempotency-Key": f"refund-{payment['id']}"},
    )
    assert refund.status_code == 201, refund.text

    def refund_succeeded() -> bool:
        listed = payments.get(f"/payments/{payment['id']}/refunds").json()["data"]
        return [r["status"] for r in listed] == ["succeeded"]

    eventually(refund_succeeded)
    after = payments.get(f"/payments/{payment['id']}").json()
    assert (after["status"], after["amount_refunded"]) == ("partially_refunded", 2000)
    deliveries = psp.get("/_admin/deliveries", params={"reference": payment["id"]}).json()
    assert [d["type"] for d in deliveries["data"]] == ["payment.status"]  # none for the refund


def test_a_refund_whose_retries_ran_out_is_completed_by_the_janitor(
    cluster: ClusterEnv,
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    payments: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    eventually: Callable[..., Any],
) -> None:
    payment = create_payment("pm_card_visa", amount=5000)
    wait_for_status(payment["id"], "succeeded")
    psp_faults(down=True)
    refund = payments.post(
        f"/payments/{payment['id']}/refunds",
        json={"amount": 2000},
        headers={"Idempotency-Key": f"refund-{payment['id']}"},
    ).json()

    def dead_lettered() -> bool:
        letters = read_topic(cluster.bootstrap_servers, CHARGER_DLQ)
        return any(decode(letter.value).data.get("refund_id") == refund["id"] for letter in letters)

    eventually(dead_lettered)  # the charger gave up on it
    listed = payments.get(f"/payments/{payment['id']}/refunds").json()["data"]
    assert [r["status"] for r in listed] == ["requested"]

    psp_faults()
    wait_for_status(payment["id"], "partially_refunded")
    listed = payments.get(f"/payments/{payment['id']}/refunds").json()["data"]
    assert [r["status"] for r in listed] == ["succeeded"]


def _seconds_to_succeed(
    create_payment: Callable[..., dict[str, Any]], wait_for_status: Callable[..., Any], count: int
) -> list[float]:
    started = time.monotonic()
    created = [create_payment("pm_card_visa") for _ in range(count)]
    took = []
    for payment in created:
        wait_for_status(payment["id"], "succeeded")
        took.append(time.monotonic() - started)
    return took


def test_a_psp_that_hangs_for_30s_delays_no_one_else_and_charges_nothing_twice(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    events_about: Callable[[str, str], list[Envelope]],
    psp: httpx.Client,
    psp_faults: Callable[..., dict[str, Any]],
    eventually: Callable[..., Any],
) -> None:
    charger_log = CLUSTER_DIR / "logs" / "svc-payment-charger.log"
    log_start = charger_log.stat().st_size
    charger_pid = (CLUSTER_DIR / "run" / "svc-payment-charger.pid").read_text().split()[0]
    usual = max(_seconds_to_succeed(create_payment, wait_for_status, 3))

    # Every request to charge this token hangs 30 s, retries included; other payments use another.
    psp_faults(hang_ms=30_000, hang_payment_method="pm_card_slow_webhook")
    stuck = create_payment("pm_card_slow_webhook")
    eventually(lambda: psp.get("/_admin/faults").json()["hanging"] >= 1)
    others = _seconds_to_succeed(create_payment, wait_for_status, 5)
    psp_faults()  # the PSP recovers; the requests it holds still carry on when their time is up
    wait_for_status(stuck["id"], "succeeded")
    eventually(lambda: psp.get("/_admin/faults").json()["hanging"] == 0, timeout=90)

    assert max(others) <= usual + PSP_TIMEOUT + 1.0, (others, usual)
    assert len(charge_of(psp, stuck["id"])) == 1  # every late request replayed the one charge
    assert _types(events_about(PAYMENT_EVENTS.name, stuck["id"]))["payment.succeeded"] == 1
    assert (CLUSTER_DIR / "run" / "svc-payment-charger.pid").read_text().split()[0] == charger_pid
    with charger_log.open() as log:
        log.seek(log_start)
        since = log.read().lower()
    for sign_of_eviction in ("poll expired", "leaving group", "rebalanc", "heartbeat"):
        assert sign_of_eviction not in since

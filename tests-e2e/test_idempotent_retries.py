"""Every POST can be retried safely. A merchant whose answer was lost sends the same request
with the same ``Idempotency-Key`` again and gets the first answer, and nothing twice; the same
key with another body is refused; concurrent copies make one object. The POSTs are those the
gateway's own OpenAPI document serves, so a POST added there without a journey here fails.
Operators' POSTs with keys (ledger adjustments) or natural keys (a settlement run's cutoff)
replay too."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from e2e_clients import Merchant, Operator

pytestmark = pytest.mark.e2e

PUBLIC_ENDPOINT = "http://127.0.0.1:9/hooks"  # allowed on the test cluster; nothing listens there
CONCURRENT_COPIES = 6


@dataclass(frozen=True)
class Retry:
    """One POST to retry: where, the body and another body, and how many objects it made."""

    path: str
    body: dict[str, Any]
    other_body: dict[str, Any]
    made: Callable[[], int] | None  # objects that exist because of it (None: it makes none)


def _created_payment(merchant: Merchant) -> str:
    payment = merchant.create_payment(5000)
    merchant.wait_for_status(payment["id"], "succeeded")
    return str(payment["id"])


def _endpoint(merchant: Merchant) -> str:
    body = {"url": PUBLIC_ENDPOINT, "event_types": ["payment.succeeded"]}
    made = merchant.api.post(
        "/v1/webhook_endpoints", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _count(merchant: Merchant, path: str) -> Callable[[], int]:
    return lambda: len(merchant.api.get(path).json()["data"])


def _payments(merchant: Merchant) -> Retry:
    body = {"amount": 3000, "currency": "EUR", "payment_method": "pm_card_visa"}
    return Retry("/v1/payments", body, {**body, "amount": 3001}, _count(merchant, "/v1/payments"))


def _refunds(merchant: Merchant) -> Retry:
    path = f"/v1/payments/{_created_payment(merchant)}/refunds"
    return Retry(path, {"amount": 1000}, {"amount": 1500}, _count(merchant, path))


def _endpoints(merchant: Merchant) -> Retry:
    body = {"url": PUBLIC_ENDPOINT, "event_types": ["payment.succeeded"]}
    other = {**body, "event_types": ["payment.failed"]}
    return Retry("/v1/webhook_endpoints", body, other, _count(merchant, "/v1/webhook_endpoints"))


def _endpoint_change(merchant: Merchant) -> Retry:
    path = f"/v1/webhook_endpoints/{_endpoint(merchant)}"
    return Retry(path, {"description": "shop"}, {"description": "other shop"}, None)


def _secret_rotation(merchant: Merchant) -> Retry:
    path = f"/v1/webhook_endpoints/{_endpoint(merchant)}/rotate_secret"
    return Retry(path, {"overlap_seconds": 60}, {"overlap_seconds": 120}, None)


def _redelivery(merchant: Merchant) -> Retry:
    path = f"/v1/webhook_endpoints/{_endpoint(merchant)}/redeliveries"
    since = datetime.now(UTC).isoformat()
    return Retry(path, {"since": since}, {"since": "2026-01-01T00:00:00+00:00"}, None)


# operationId -> the retry, and whether the first answer is stored and replayed as it was
# (changes and redeliveries are idempotent as they are: the same request does the same)
RETRIES: dict[str, tuple[Callable[[Merchant], Retry], bool]] = {
    "createPayment": (_payments, True),
    "createRefund": (_refunds, True),
    "createWebhookEndpoint": (_endpoints, True),
    "updateWebhookEndpoint": (_endpoint_change, False),
    "rotateWebhookSecret": (_secret_rotation, True),
    "redeliverWebhooks": (_redelivery, False),
}


def _served_posts(gateway: httpx.Client) -> set[str]:
    """The operationId of each POST the gateway serves, from its own OpenAPI document."""
    document = gateway.get("/v1/openapi.json").json()
    return {
        operation["operationId"]
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method == "post"
    }


def test_every_post_the_gateway_serves_has_a_retry_journey(gateway: httpx.Client) -> None:
    without = sorted(_served_posts(gateway) - set(RETRIES) - {"createAccessToken"})
    assert without == [], f"POSTs served without a retry journey here: {without}"


def test_a_token_request_retried_gives_another_valid_token_and_changes_no_key(
    merchant: Merchant, gateway: httpx.Client, operator: Operator
) -> None:
    credentials = {"client_id": merchant.client_id, "client_secret": merchant.client_secret}

    tokens = [gateway.post("/v1/auth/token", json=credentials) for _ in range(2)]

    assert [t.status_code for t in tokens] == [200, 200], [t.text for t in tokens]
    for token in tokens:
        answer = gateway.get(
            "/v1/payments", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert answer.status_code == 200, answer.text
    keys = operator.admin.get(f"/v1/admin/merchants/{merchant.merchant_id}/keys").json()["data"]
    assert [(k["key_id"], k["status"]) for k in keys] == [(merchant.key_id, "active")]


@pytest.mark.parametrize("operation", sorted(RETRIES))
def test_a_post_retried_with_its_key_answers_the_first_answer_and_makes_nothing_twice(
    operation: str, merchant: Merchant, gateway: httpx.Client
) -> None:
    if operation not in _served_posts(gateway):
        pytest.skip(f"{operation} is not served by this gateway yet")
    prepare, stored = RETRIES[operation]
    retry = prepare(merchant)
    before = retry.made() if retry.made else 0
    key = uuid.uuid4().hex

    def post(body: dict[str, Any], with_key: str = key) -> httpx.Response:
        return merchant.api.post(retry.path, json=body, headers={"Idempotency-Key": with_key})

    first, again = post(retry.body), post(retry.body)

    assert first.status_code in (200, 201, 202), first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    if stored:
        assert again.headers.get("Idempotent-Replayed") == "true"
        refused = post(retry.other_body)
        assert (refused.status_code, refused.json()["code"]) == (422, "idempotency_key_reused")
    if retry.made:
        assert retry.made() == before + 1

    concurrent_key = uuid.uuid4().hex
    with ThreadPoolExecutor(CONCURRENT_COPIES) as pool:
        copies = list(
            pool.map(lambda _: post(retry.body, concurrent_key), range(CONCURRENT_COPIES))
        )
    statuses = {answer.status_code for answer in copies}
    assert statuses <= {first.status_code, 409}, [a.text for a in copies]
    if retry.made:
        assert retry.made() == before + 2, "concurrent copies made more than one"
        made_ids = {a.json()["id"] for a in copies if a.status_code == first.status_code}
        assert len(made_ids) == 1


def test_an_operators_adjustment_retried_with_its_key_is_posted_once(operator: Operator) -> None:
    """A platform-only adjustment (fees back to the PSP's clearing): no merchant's money, so
    no batch anywhere is left holding more than its escrow."""
    entries = [
        {"account": "platform:fees", "direction": "debit", "amount": 5},
        {"account": "psp_clearing", "direction": "credit", "amount": 5},
    ]
    key = uuid.uuid4().hex

    first = operator.adjust(entries, "e2e: a correction sent twice", key)
    again = operator.adjust(entries, "e2e: a correction sent twice", key)
    other = operator.adjust(entries, "e2e: another correction", key)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert other.status_code == 409, other.text
    posted = operator.transaction(first.json()["transaction_id"])
    assert sorted((e["account"], e["direction"], e["amount"]) for e in posted["entries"]) == [
        ("platform:fees", "debit", 5),
        ("psp_clearing", "credit", 5),
    ]
    fees = operator.ledger.get(
        "/admin/accounts/platform:fees/entries", params={"currency": "EUR", "limit": 200}
    ).json()["data"]
    assert [e["transaction_id"] for e in fees].count(first.json()["transaction_id"]) == 1


def test_a_settlement_run_retried_for_its_cutoff_replays(operator: Operator) -> None:
    cutoff = datetime.now(UTC)

    first = operator.run_settlement(cutoff)
    again = operator.run_settlement(cutoff)

    assert (first["replayed"], again["replayed"]) == (False, True), (first, again)
    assert again["closed"] == first["closed"]

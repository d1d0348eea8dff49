"""A payment through the PSP ends in the ledger: its entries and the merchant's balance are
visible through the ledger's read API, the refund takes from escrow, and every transaction is
announced on ledger-events."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from payevents import Envelope
from payevents.topics import LEDGER_EVENTS
from paykit.auth.jwt import SigningKey

pytestmark = pytest.mark.e2e

AMOUNT = 3000
# The local cluster's default fee policy for EUR: 140 basis points + 25 cents.
FEE = (AMOUNT * 140 + 5000) // 10000 + 25


def _client(token: str) -> httpx.Client:
    return httpx.Client(
        base_url=os.environ["LEDGER_URL"],
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def ledger(signing_key: SigningKey, merchant: str) -> Iterator[httpx.Client]:
    """The ledger's read API as the merchant sees it."""
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_AUDIENCE"],
        subject=merchant,
        ttl=timedelta(minutes=10),
        scopes=("payments:read",),
    )
    with _client(token) as client:
        yield client


@pytest.fixture
def ledger_admin(signing_key: SigningKey) -> Iterator[httpx.Client]:
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_ADMIN_AUDIENCE"],
        subject="ops_e2e",
        ttl=timedelta(minutes=10),
        scopes=("ledger:admin",),
    )
    with _client(token) as client:
        yield client


def _escrow_reaches(ledger: httpx.Client, amount: int) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        response = ledger.get("/balances")
        assert response.status_code == 200, response.text
        found = [b for b in response.json()["data"] if b["currency"] == "EUR"]
        return found[0] if found and found[0]["escrow"] == amount else None

    probe.__name__ = f"escrow to reach {amount}"
    return probe


def test_a_payment_and_its_refund_end_in_the_merchants_ledger(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    payments: httpx.Client,
    ledger: httpx.Client,
    ledger_admin: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
    eventually: Callable[..., Any],
    merchant: str,
) -> None:
    payment = create_payment("pm_card_visa", amount=AMOUNT)
    wait_for_status(payment["id"], "succeeded")

    balance = eventually(_escrow_reaches(ledger, AMOUNT - FEE))
    assert balance == {"currency": "EUR", "escrow": AMOUNT - FEE, "payable": 0, "receivable": 0}
    page = ledger.get("/accounts/escrow/entries", params={"currency": "EUR"}).json()
    [entry] = page["data"]
    assert entry["kind"] == "payment"
    assert (entry["direction"], entry["amount"]) == ("credit", AMOUNT - FEE)
    posted = ledger.get(f"/transactions/{entry['transaction_id']}").json()
    assert posted["payment_id"] == payment["id"]
    assert {(e["account"], e["direction"], e["amount"]) for e in posted["entries"]} == {
        ("psp_clearing", "debit", AMOUNT),
        (f"merchant:{merchant}:escrow", "credit", AMOUNT - FEE),
        ("platform:fees", "credit", FEE),
    }

    refund = payments.post(
        f"/payments/{payment['id']}/refunds",
        json={"amount": 1000},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    eventually(_escrow_reaches(ledger, AMOUNT - FEE - 1000))

    announced = eventually(
        lambda: (e := events_about(LEDGER_EVENTS.name, merchant)) and len(e) >= 2 and e
    )
    assert [e.data["kind"] for e in announced] == ["payment", "refund"]
    assert announced[0].data["transaction_id"] == entry["transaction_id"]
    trial = ledger_admin.get("/admin/trial-balance").json()
    assert trial["balanced"] is True


def test_a_merchant_cannot_read_another_merchants_transaction(
    create_payment: Callable[..., dict[str, Any]],
    wait_for_status: Callable[[str, str], dict[str, Any]],
    ledger: httpx.Client,
    signing_key: SigningKey,
    eventually: Callable[..., Any],
) -> None:
    payment = create_payment("pm_card_visa", amount=AMOUNT)
    wait_for_status(payment["id"], "succeeded")
    eventually(_escrow_reaches(ledger, AMOUNT - FEE))
    [entry] = ledger.get("/accounts/escrow/entries", params={"currency": "EUR"}).json()["data"]
    other = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_AUDIENCE"],
        subject=f"MER_{uuid.uuid4().hex[:12]}",
        ttl=timedelta(minutes=5),
        scopes=("payments:read",),
    )
    with _client(other) as stranger:
        assert stranger.get(f"/transactions/{entry['transaction_id']}").status_code == 404

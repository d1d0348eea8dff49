"""A merchant's money from payment to bank: the payment succeeds through the PSP, the ledger puts
its net in escrow, settlement itemises it, an operator's run closes a batch (escrow to payable),
the bank pays it (payable to bank:payouts) and the batch is paid. A payout to a closed account
fails (payable back to escrow) and an operator's retry to a corrected account pays it once; a
payout whose webhook never comes is completed by the janitor's re-check. A batch whose closing the
ledger refuses (an operator's adjustment emptied the merchant's escrow after the item was made) is
never paid: a payout waits for the ledger's move of the batch to payable.

The test cluster gives the merchant families ``MER_stl_closed_*`` and ``MER_stl_silent_*`` the
bank accounts ``acct_closed`` and ``acct_silent`` (deploy/local/run-tests.sh), holds items for 0
days and lets its janitor re-check payouts pending for 2 s.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from payevents import Envelope
from payevents.topics import SETTLEMENT_EVENTS
from paykit.auth.jwt import SigningKey
from paykit.testing import wait_until

pytestmark = pytest.mark.e2e

AMOUNT = 3000
# The local cluster's default fee policy for EUR: 140 basis points + 25 cents.
FEE = (AMOUNT * 140 + 5000) // 10000 + 25
NET = AMOUNT - FEE
TIMEOUT = 60.0


def _client(url_variable: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=os.environ[url_variable], timeout=15, headers={"Authorization": f"Bearer {token}"}
    )


@dataclass
class Merchant:
    """One merchant's view: its payment API, its ledger, its settlement batches."""

    id: str
    payments: httpx.Client
    ledger: httpx.Client
    settlement: httpx.Client

    def balances(self) -> dict[str, int]:
        response = self.ledger.get("/balances")
        assert response.status_code == 200, response.text
        found = [b for b in response.json()["data"] if b["currency"] == "EUR"]
        return {k: found[0][k] for k in ("escrow", "payable", "receivable")} if found else {}

    def batch(self, batch_id: str) -> dict[str, Any]:
        response = self.settlement.get(f"/settlements/batches/{batch_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def entries(self, kind: str) -> list[tuple[str, int]]:
        page = self.ledger.get(f"/accounts/{kind}/entries", params={"currency": "EUR"}).json()
        return sorted((e["direction"], e["amount"]) for e in page["data"])


@pytest.fixture
def merchant_in(signing_key: SigningKey) -> Iterator[Callable[[str], Merchant]]:
    """A fresh merchant of a bank-account family (``MER_stl_<family>_<unique>``)."""
    clients: list[httpx.Client] = []

    def make(family: str) -> Merchant:
        merchant_id = f"MER_stl_{family}_{uuid.uuid4().hex[:10]}"
        token = signing_key.issue(
            issuer=os.environ["AUTH_ISSUER"],
            audience=os.environ["AUTH_AUDIENCE"],
            subject=merchant_id,
            ttl=timedelta(minutes=10),
            scopes=("payments:read", "payments:write"),
        )
        made = Merchant(
            merchant_id,
            _client("PAYMENT_URL", token),
            _client("LEDGER_URL", token),
            _client("SETTLEMENT_URL", token),
        )
        clients.extend([made.payments, made.ledger, made.settlement])
        return made

    yield make
    for client in clients:
        client.close()


def _operator(signing_key: SigningKey, scope: str, url_variable: str) -> httpx.Client:
    token = signing_key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_ADMIN_AUDIENCE"],
        subject="ops_e2e",
        ttl=timedelta(minutes=10),
        scopes=(scope,),
    )
    return _client(url_variable, token)


@pytest.fixture
def settlement_admin(signing_key: SigningKey) -> Iterator[httpx.Client]:
    with _operator(signing_key, "settlement:admin", "SETTLEMENT_URL") as client:
        yield client


@pytest.fixture
def ledger_admin(signing_key: SigningKey) -> Iterator[httpx.Client]:
    with _operator(signing_key, "ledger:admin", "LEDGER_URL") as client:
        yield client


def _settle(
    merchant: Merchant,
    settlement_admin: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
    ran: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Pay AMOUNT, see its net in escrow and its item, then close it in a run of cutoff now."""
    payment_id = _paid_and_itemised(merchant, events_about)
    return _closed_in_a_run(merchant, settlement_admin, payment_id, ran)


def _paid_and_itemised(
    merchant: Merchant, events_about: Callable[[str, str], list[Envelope]]
) -> str:
    """Pay AMOUNT and see its net in escrow and its settlement item; the payment's id."""
    created = merchant.payments.post(
        "/payments",
        json={"amount": AMOUNT, "currency": "EUR", "payment_method": "pm_card_visa"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    assert wait_until(
        lambda: merchant.payments.get(f"/payments/{payment_id}").json()["status"] == "succeeded",
        timeout=TIMEOUT,
    ), f"{payment_id} never succeeded"
    assert wait_until(lambda: merchant.balances().get("escrow") == NET, timeout=TIMEOUT), (
        f"escrow never reached {NET}: {merchant.balances()}"
    )
    assert merchant.balances() == {"escrow": NET, "payable": 0, "receivable": 0}

    def itemised() -> list[Envelope]:
        return [
            e
            for e in events_about(SETTLEMENT_EVENTS.name, merchant.id)
            if e.type == "settlement.item_created"
        ]

    assert wait_until(lambda: len(itemised()) == 1, timeout=TIMEOUT), "no settlement item"
    return str(payment_id)


def _closed_in_a_run(
    merchant: Merchant,
    settlement_admin: httpx.Client,
    payment_id: str,
    ran: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A run of cutoff now closes the merchant's batch of its one item."""
    run = settlement_admin.post("/settlements/run", json={"cutoff": datetime.now(UTC).isoformat()})
    assert run.status_code == 200, run.text
    closed: list[dict[str, Any]] = run.json()["closed"]
    if ran is not None:
        ran.extend(closed)
    [batch] = [b for b in closed if b["merchant_id"] == merchant.id]
    assert (batch["item_count"], batch["gross_amount"], batch["fee_amount"]) == (1, AMOUNT, FEE)
    assert batch["net_amount"] == NET
    [item] = merchant.batch(batch["id"])["items"]
    assert (item["payment_id"], item["net_amount"]) == (payment_id, NET)
    return batch


def _status_becomes(merchant: Merchant, batch_id: str, status: str) -> None:
    assert wait_until(lambda: merchant.batch(batch_id)["status"] == status, timeout=TIMEOUT), (
        f"batch {batch_id} is {merchant.batch(batch_id)['status']}, never {status}"
    )


def _paid_out(merchant: Merchant, ledger_admin: httpx.Client, batch_id: str) -> None:
    """The batch is paid, the merchant's balances are all 0 and bank:payouts was credited the
    batch's net once."""
    _status_becomes(merchant, batch_id, "paid")
    assert wait_until(
        lambda: merchant.balances() == {"escrow": 0, "payable": 0, "receivable": 0},
        timeout=TIMEOUT,
    ), merchant.balances()
    assert _bank_payouts_of(ledger_admin, batch_id) == [("credit", NET)]


def _bank_payouts_balance(ledger_admin: httpx.Client) -> int:
    response = ledger_admin.get("/admin/balances")
    assert response.status_code == 200, response.text
    found = [
        b["balance"]
        for b in response.json()["data"]
        if b["account"] == "bank:payouts" and b["currency"] == "EUR"
    ]
    return int(found[0]) if found else 0


def _outcome(settlement_admin: httpx.Client, batch_id: str) -> str:
    """The batch's status once its payout is decided (paid or failed)."""

    def status() -> str:
        found: str = settlement_admin.get(f"/settlements/admin/batches/{batch_id}").json()["status"]
        return found

    assert wait_until(lambda: status() in ("paid", "failed"), timeout=TIMEOUT), batch_id
    return status()


def _bank_payouts_moved_by_what_the_run_paid(
    settlement_admin: httpx.Client,
    ledger_admin: httpx.Client,
    bank_before: int,
    closed_in_run: list[dict[str, Any]],
    never_paid: tuple[str, ...] = (),
) -> None:
    """The run closed every merchant's eligible items: bank:payouts moved by what it paid.
    ``never_paid``: batches the ledger refused, which stay closed and move nothing."""
    outcomes = {
        b["id"]: _outcome(settlement_admin, b["id"])
        for b in closed_in_run
        if b["id"] not in never_paid
    }
    paid_total = sum(b["net_amount"] for b in closed_in_run if outcomes.get(b["id"]) == "paid")
    assert wait_until(
        lambda: bank_before - _bank_payouts_balance(ledger_admin) == paid_total, timeout=TIMEOUT
    ), f"bank:payouts moved {bank_before - _bank_payouts_balance(ledger_admin)}, paid {paid_total}"


def _batch_events(
    merchant: Merchant, events_about: Callable[[str, str], list[Envelope]]
) -> list[str]:
    """The merchant's settlement.batch_* events, in order, without the prefix."""
    return [
        e.type.removeprefix("settlement.")
        for e in events_about(SETTLEMENT_EVENTS.name, merchant.id)
        if e.type.startswith("settlement.batch")
    ]


def _bank_payouts_of(ledger_admin: httpx.Client, batch_id: str) -> list[tuple[str, int]]:
    """The bank:payouts entries of the ledger's payout transactions of ``batch_id``."""
    page = ledger_admin.get(
        "/admin/accounts/bank:payouts/entries", params={"currency": "EUR", "limit": 100}
    )
    assert page.status_code == 200, page.text
    moved = []
    for entry in page.json()["data"]:
        posted = ledger_admin.get(f"/admin/transactions/{entry['transaction_id']}").json()
        if posted["settlement_batch_id"] == batch_id:
            moved.append((entry["direction"], entry["amount"]))
    return moved


def test_a_payment_is_settled_paid_out_and_the_ledger_agrees_at_every_step(
    merchant_in: Callable[[str], Merchant],
    settlement_admin: httpx.Client,
    ledger_admin: httpx.Client,
    psp: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
) -> None:
    merchant = merchant_in("ok")
    bank_before = _bank_payouts_balance(ledger_admin)
    closed_in_run: list[dict[str, Any]] = []
    batch = _settle(merchant, settlement_admin, events_about, closed_in_run)

    _paid_out(merchant, ledger_admin, batch["id"])
    assert merchant.entries("escrow") == [("credit", NET), ("debit", NET)]
    assert merchant.entries("payable") == [("credit", NET), ("debit", NET)]  # closed, then paid

    settled = merchant.batch(batch["id"])
    assert sum(item["net_amount"] for item in settled["items"]) == settled["net_amount"] == NET
    [payout] = settled["payouts"]
    assert (payout["attempt"], payout["status"], payout["amount"]) == (1, "paid", NET)
    at_bank = psp.get("/payouts", params={"batch_id": batch["id"]}).json()["data"]
    assert [(p["id"], p["status"], p["amount"]) for p in at_bank] == [
        (payout["bank_payout_id"], "paid", NET)
    ]
    _bank_payouts_moved_by_what_the_run_paid(
        settlement_admin, ledger_admin, bank_before, closed_in_run
    )
    assert _batch_events(merchant, events_about) == [
        "batch_closed",
        "batch_submitted",
        "batch_paid",
    ]


def test_a_payout_to_a_closed_account_fails_back_to_escrow_and_its_corrected_retry_pays_once(
    merchant_in: Callable[[str], Merchant],
    settlement_admin: httpx.Client,
    ledger_admin: httpx.Client,
    psp: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
) -> None:
    merchant = merchant_in("closed")
    batch = _settle(merchant, settlement_admin, events_about)

    _status_becomes(merchant, batch["id"], "failed")
    assert wait_until(lambda: merchant.balances().get("escrow") == NET, timeout=TIMEOUT)
    assert merchant.balances() == {"escrow": NET, "payable": 0, "receivable": 0}
    assert merchant.entries("payable") == [("credit", NET), ("debit", NET)]  # there and back
    [failed] = merchant.batch(batch["id"])["payouts"]
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")

    retried = settlement_admin.post(
        f"/settlements/batches/{batch['id']}/retry", json={"bank_account": "acct_corrected"}
    )
    assert retried.status_code == 202, retried.text
    _paid_out(merchant, ledger_admin, batch["id"])

    again = settlement_admin.post(f"/settlements/batches/{batch['id']}/retry")
    assert again.status_code == 409, again.text
    attempts = merchant.batch(batch["id"])["payouts"]
    assert [(p["attempt"], p["bank_account"], p["status"]) for p in attempts] == [
        (1, "acct_closed", "failed"),
        (2, "acct_corrected", "paid"),
    ]
    at_bank = psp.get("/payouts", params={"batch_id": batch["id"]}).json()["data"]
    assert [(p["attempt"], p["status"]) for p in at_bank] == [(1, "failed"), (2, "paid")]


def test_a_payout_whose_webhook_never_comes_is_completed_by_the_janitor(
    merchant_in: Callable[[str], Merchant],
    settlement_admin: httpx.Client,
    ledger_admin: httpx.Client,
    psp: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
) -> None:
    merchant = merchant_in("silent")
    batch = _settle(merchant, settlement_admin, events_about)

    _paid_out(merchant, ledger_admin, batch["id"])
    [payout] = merchant.batch(batch["id"])["payouts"]
    deliveries = psp.get("/_admin/deliveries", params={"reference": payout["bank_payout_id"]})
    assert deliveries.json()["data"] == []  # the bank never told: only the re-check did


def test_a_batch_whose_closing_the_ledger_refuses_stays_closed_and_is_never_paid(
    merchant_in: Callable[[str], Merchant],
    settlement_admin: httpx.Client,
    ledger_admin: httpx.Client,
    psp: httpx.Client,
    events_about: Callable[[str, str], list[Envelope]],
) -> None:
    merchant = merchant_in("emptied")
    payment_id = _paid_and_itemised(merchant, events_about)
    emptied = ledger_admin.post(
        "/admin/adjustments",
        json={
            "currency": "EUR",
            "entries": [
                {"account": f"merchant:{merchant.id}:escrow", "direction": "debit", "amount": NET},
                {"account": "psp_clearing", "direction": "credit", "amount": NET},
            ],
            "reason": "e2e: the merchant's escrow emptied after its item was made",
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert emptied.status_code == 201, emptied.text
    assert merchant.balances() == {"escrow": 0, "payable": 0, "receivable": 0}
    bank_before = _bank_payouts_balance(ledger_admin)
    closed_in_run: list[dict[str, Any]] = []

    batch = _closed_in_a_run(merchant, settlement_admin, payment_id, closed_in_run)

    ledger_dlq = SETTLEMENT_EVENTS.dlq_topic("ledger-settlement-poster")
    assert wait_until(
        lambda: (
            [e.data["batch_id"] for e in events_about(ledger_dlq, merchant.id)] == [batch["id"]]
        ),
        timeout=TIMEOUT,
    ), "the ledger did not refuse the closing"
    # the janitor looks every second: a payout would have been asked for by now
    assert not wait_until(
        lambda: (
            merchant.batch(batch["id"])["status"] != "closed"
            or psp.get("/payouts", params={"batch_id": batch["id"]}).json()["data"] != []
        ),
        timeout=5,
    ), merchant.batch(batch["id"])
    refused = merchant.batch(batch["id"])
    assert (refused["attempt"], refused["ledger_moved_at"], refused["payouts"]) == (0, None, [])
    assert merchant.balances() == {"escrow": 0, "payable": 0, "receivable": 0}
    assert _bank_payouts_of(ledger_admin, batch["id"]) == []
    _bank_payouts_moved_by_what_the_run_paid(
        settlement_admin, ledger_admin, bank_before, closed_in_run, never_paid=(batch["id"],)
    )
    assert _batch_events(merchant, events_about) == ["batch_closed"]

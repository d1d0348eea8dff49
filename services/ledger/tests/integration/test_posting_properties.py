"""The posting rules as the database applies them: random sequences of a merchant's facts,
posted through the service into PostgreSQL, leave its balances exactly where an in-memory model
of the rules puts them, with nothing refused, and the ledger verifying afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts
from ledger_service.domain.fees import FeePolicy, FeeRule
from ledger_service.service_layer.posting import PostingInput, post_event
from ledger_service.service_layer.verification import verify
from payevents import Envelope, new_event

pytestmark = pytest.mark.integration
FEE = FeeRule(140, 25)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=500_000)),
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=500_000)),
        st.tuples(st.just("refund"), st.floats(0, 1), st.floats(0, 1)),
        st.tuples(st.just("reverse"), st.floats(0, 1)),
        st.tuples(st.just("close")),
        st.tuples(st.just("paid")),
        st.tuples(st.just("failed")),
        st.tuples(st.just("retry")),
    ),
    min_size=3,
    max_size=25,
)


class Merchant:
    """One merchant's facts, kept as a settlement and payment service would know them."""

    def __init__(self) -> None:
        self.id = f"MER_{uuid.uuid4().hex[:12]}"
        self.payments: list[dict[str, Any]] = []
        self.unsettled = 0
        self.batches = 0
        self.open_payout: tuple[str, int, int] | None = None  # batch, amount, attempt
        self.failed_payout: tuple[str, int, int] | None = None
        self.expected = {"escrow": 0, "payable": 0, "receivable": 0}

    def event(self, event_type: str, data: dict[str, Any]) -> Envelope:
        subject = data.get("payment_id") or self.id
        return new_event(event_type, data, source="tests", subject=subject)

    def facts_for(self, step: tuple[Any, ...]) -> Envelope | None:
        match step:
            case ("pay", int(amount)):
                payment: dict[str, Any] = {
                    "payment_id": f"PAY_{uuid.uuid4().hex[:12]}",
                    "merchant_id": self.id,
                    "amount": amount,
                    "currency": "EUR",
                    "refunded": 0,
                    "reversed": False,
                }
                self.payments.append(payment)
                self.unsettled += amount - FEE.fee_for(amount)
                return self.event("payment.succeeded", _public(payment))
            case ("refund", float(which), float(part)):
                open_ = [
                    p for p in self.payments if p["refunded"] < p["amount"] and not p["reversed"]
                ]
                if not open_:
                    return None
                payment = open_[int(which * (len(open_) - 1))]
                amount = max(1, int((payment["amount"] - payment["refunded"]) * part))
                payment["refunded"] += amount
                self.unsettled -= amount
                return self.event(
                    "refund.succeeded",
                    {
                        **_public(payment),
                        "amount": amount,
                        "refund_id": f"ref_{uuid.uuid4().hex[:10]}",
                    },
                )
            case ("reverse", float(which)):
                untouched = [p for p in self.payments if not p["refunded"] and not p["reversed"]]
                if not untouched:
                    return None
                payment = untouched[int(which * (len(untouched) - 1))]
                payment["reversed"] = True
                self.unsettled -= payment["amount"] - FEE.fee_for(payment["amount"])
                return self.event(
                    "payment.failed",
                    {
                        **_public(payment),
                        "failure_code": "chargeback",
                        "corrected_from": "succeeded",
                    },
                )
            case ("close",):
                if self.open_payout is not None:
                    return None
                self.failed_payout = None  # its money is in this batch now: never retried
                self.batches += 1
                batch, net = f"bat_{self.id}_{self.batches}", self.unsettled
                if net > 0:
                    self.unsettled -= net
                    self.open_payout = (batch, net, 1)
                return self.event(
                    "settlement.batch_closed",
                    {
                        "batch_id": batch,
                        "merchant_id": self.id,
                        "currency": "EUR",
                        "period_start": "2026-03-01T00:00:00Z",
                        "period_end": "2026-03-02T00:00:00Z",
                        "item_count": 1,
                        "gross_amount": max(net, 0),
                        "refunded_amount": max(-net, 0),
                        "fee_amount": 0,
                        "net_amount": net,
                    },
                )
            case ("paid",) | ("failed",):
                if self.open_payout is None:
                    return None
                (batch, amount, attempt), self.open_payout = self.open_payout, None
                facts = {
                    "batch_id": batch,
                    "merchant_id": self.id,
                    "currency": "EUR",
                    "amount": amount,
                    "attempt": attempt,
                }
                if step[0] == "paid":
                    return self.event("settlement.batch_paid", {**facts, "payout_id": "po_1"})
                self.unsettled += amount
                self.failed_payout = (batch, amount, attempt)
                return self.event("settlement.batch_failed", {**facts, "failure_code": "bank_down"})
            case ("retry",):
                # a failed batch paid again, whatever refunds took from escrow since
                if self.failed_payout is None or self.open_payout is not None:
                    return None
                batch, amount, attempt = self.failed_payout
                self.failed_payout = None
                self.unsettled -= amount
                self.open_payout = (batch, amount, attempt + 1)
                return self.event(
                    "settlement.batch_submitted",
                    {
                        "batch_id": batch,
                        "merchant_id": self.id,
                        "currency": "EUR",
                        "amount": amount,
                        "attempt": attempt + 1,
                        "payout_id": f"po_{attempt + 1}",
                    },
                )
        return None


def _public(payment: dict[str, Any]) -> dict[str, Any]:
    return {k: payment[k] for k in ("payment_id", "merchant_id", "amount", "currency")}


@pytest.fixture(scope="module")
def conn(ledger_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(ledger_url, autocommit=True) as connection:
        yield connection


def _balances(conn: psycopg.Connection[Any], merchant: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT a.code, sum(b.balance) FROM ledger_accounts a"
        " JOIN ledger_balances b ON b.account_id = a.id WHERE a.merchant_id = %s GROUP BY a.code",
        (merchant,),
    ).fetchall()
    found = {code.rsplit(":", 1)[1]: int(total) for code, total in rows}
    return {kind: found.get(kind, 0) for kind in accounts.MERCHANT_ACCOUNT_KINDS}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=steps)
def test_random_facts_posted_into_postgresql_leave_the_balances_they_imply(
    conn: psycopg.Connection[Any], sequence: list[tuple[Any, ...]]
) -> None:
    merchant = Merchant()
    fees = FeePolicy(default=FEE)
    for step in sequence:
        envelope = merchant.facts_for(step)
        if envelope is None:
            continue
        with conn.transaction():
            post_event(envelope, PostingInput(LedgerRepository(conn), fees))
    held = _balances(conn, merchant.id)
    assert held["escrow"] >= 0 and held["payable"] >= 0 and held["receivable"] >= 0
    assert held["escrow"] - held["receivable"] == merchant.unsettled
    assert held["payable"] == (merchant.open_payout[1] if merchant.open_payout else 0)
    with conn.transaction():
        result = verify(conn)
    assert result.ok, (result.first_break, result.balance_breaks)

"""Posting a stream as batches, however it is cut, writes exactly what posting it one event at a
time writes: the same journal transactions in the same order, the same entries, balances, news
and seals. The consumer relies on it: its fall-back, a redelivery and ``ledger rebuild`` see the
same events in other groupings than the batch that first posted them.

The seal hashes cover ``recorded_at``, which a batch takes from its database transaction's
clock. The batched ledger is posted first, and each one-at-a-time posting is given the
``recorded_at`` its transaction got in the batched ledger (as ``ledger rebuild`` does), so the
hashes themselves are compared, not only the chains' validity.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts
from ledger_service.domain.fees import FeePolicy, FeeRule
from ledger_service.service_layer.posting import (
    PostingInput,
    post_event,
    post_events,
    transaction_id_for,
)
from ledger_service.service_layer.verification import verify
from payevents import Envelope, decode, new_event

pytestmark = pytest.mark.integration
FEE = FeeRule(140, 25)
FEES = FeePolicy(default=FEE)
MakeEvent = Callable[..., Envelope]
PaymentFacts = Callable[..., dict[str, Any]]
SLOTS = 2  # payments per merchant a step can name, paid or not yet

merchant_index = st.integers(min_value=0, max_value=2)
slot = st.integers(min_value=0, max_value=SLOTS - 1)
earlier = st.floats(min_value=0, max_value=1)
# pay and reverse are listed twice, to weigh them: a reversal often shares its payment's batch
steps = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), merchant_index, slot, st.integers(1, 200_000)),
        st.tuples(st.just("pay"), merchant_index, slot, st.integers(1, 200_000)),
        # up to far more than escrow holds, so receivable is used
        st.tuples(st.just("refund"), merchant_index, slot, st.integers(1, 300_000)),
        st.tuples(st.just("refund_again"), earlier),
        st.tuples(st.just("reverse"), merchant_index, slot),
        st.tuples(st.just("reverse"), merchant_index, slot),
        st.tuples(st.just("same_event_again"), earlier),
        st.tuples(st.just("net"), merchant_index),
    ),
    min_size=1,
    max_size=30,
)


def refund_of(payment: dict[str, Any], amount: int) -> dict[str, Any]:
    return {**payment, "amount": amount, "refund_id": f"ref_{uuid.uuid4().hex[:12]}"}


@dataclass
class Stream:
    """Turns steps into the events the platform would publish, for 1-3 fresh merchants."""

    merchants: int
    namespace: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    amounts: dict[tuple[int, int], int] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)

    def merchant(self, index: int) -> str:
        return f"MER_{self.namespace}_{index % self.merchants}"

    def payment(self, index: int, slot: int) -> dict[str, Any]:
        key = (index % self.merchants, slot)
        return {
            "payment_id": f"PAY_{self.namespace}_{key[0]}_{slot}",
            "merchant_id": self.merchant(index),
            "amount": self.amounts.get(key, 1_000),
            "currency": "EUR",
        }

    def paid(self, index: int, slot: int) -> bool:
        return (index % self.merchants, slot) in self.amounts

    def add(self, event_type: str, data: dict[str, Any]) -> None:
        subject = data.get("payment_id") or data["merchant_id"]
        self.events.append(new_event(event_type, data, source="tests", subject=subject))

    def step(self, step: tuple[Any, ...]) -> None:
        match step:
            case ("pay", int(index), int(slot), int(amount)):
                self.amounts.setdefault((index % self.merchants, slot), amount)
                self.add("payment.succeeded", self.payment(index, slot))
            case ("refund", int(index), int(slot), int(amount)):
                refund = refund_of(self.payment(index, slot), amount)
                self.refunds.append(refund)
                self.add("refund.succeeded", refund)
            case ("refund_again", float(which)) if self.refunds:
                self.add("refund.succeeded", self.refunds[int(which * (len(self.refunds) - 1))])
            case ("reverse", int(index), int(slot)) if self.paid(index, slot):
                # only of a payment already in the stream: a failure that moved nothing before
                # it is the known divergence of the last test below
                self.add(
                    "payment.failed",
                    {
                        **self.payment(index, slot),
                        "failure_code": "chargeback",
                        "corrected_from": "succeeded",
                    },
                )
            case ("same_event_again", float(which)) if self.events:
                self.events.append(self.events[int(which * (len(self.events) - 1))])
            case ("net", int(index)):
                self.add("settlement.batch_closed", net_zero_batch(self.merchant(index)))


def net_zero_batch(merchant: str) -> dict[str, Any]:
    """A batch that pays nothing out: it only nets what the merchant owes against escrow."""
    return {
        "batch_id": f"bat_{uuid.uuid4().hex[:12]}",
        "merchant_id": merchant,
        "currency": "EUR",
        "period_start": "2026-03-01T00:00:00Z",
        "period_end": "2026-03-02T00:00:00Z",
        "item_count": 0,
        "gross_amount": 0,
        "refunded_amount": 0,
        "fee_amount": 0,
        "net_amount": 0,
    }


def split(events: Sequence[Envelope], cut_after: Sequence[bool]) -> list[list[Envelope]]:
    batches: list[list[Envelope]] = [[]]
    for envelope, cut in zip(events, cut_after, strict=False):
        batches[-1].append(envelope)
        if cut:
            batches.append([])
    return [batch for batch in batches if batch]


def post_in_batches(url: str, batches: Sequence[Sequence[Envelope]]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for batch in batches:
            with conn.transaction():
                post_events(batch, LedgerRepository(conn), FEES)


def post_one_at_a_time(
    url: str, events: Sequence[Envelope], recorded_at: dict[str, datetime]
) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for envelope in events:
            with conn.transaction():
                post_event(
                    envelope,
                    PostingInput(LedgerRepository(conn), FEES),
                    recorded_at=recorded_at.get(transaction_id_for(envelope.id)),
                )


def recorded_times(url: str) -> dict[str, datetime]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, recorded_at FROM ledger_transactions").fetchall())


@dataclass(frozen=True)
class LedgerState:
    """Everything a posting leaves behind, in a form two ledgers can be compared by."""

    transactions: list[tuple[Any, ...]]
    balances: list[tuple[Any, ...]]
    seals: list[tuple[int, bytes]]
    sources: list[tuple[Any, ...]]
    news: list[tuple[Any, ...]]


def state_of(url: str) -> LedgerState:
    with psycopg.connect(url) as conn:
        entries: dict[str, list[tuple[str, str, int]]] = {}
        for transaction_id, code, side, amount in conn.execute(
            "SELECT e.transaction_id, a.code, e.side, e.amount FROM ledger_entries e"
            " JOIN ledger_accounts a ON a.id = e.account_id ORDER BY e.id"
        ):
            entries.setdefault(transaction_id, []).append((code, side, amount))
        transactions = [
            (*row, entries.get(row[0], []))
            for row in conn.execute(
                "SELECT t.id, t.reference, t.kind, t.business_key, t.merchant_id, t.effective_at,"
                " t.recorded_at FROM ledger_transactions t"
                " JOIN ledger_seals s ON s.transaction_id = t.id ORDER BY s.seq"
            )
        ]
        balances = conn.execute(
            "SELECT a.code, a.currency, sum(b.balance), sum(b.debits), sum(b.credits),"
            " sum(b.entry_count) FROM ledger_accounts a"
            " JOIN ledger_balances b ON b.account_id = a.id"
            " GROUP BY a.code, a.currency ORDER BY a.code, a.currency"
        ).fetchall()
        seals = [
            (int(seq), bytes(hash))
            for seq, hash in conn.execute("SELECT seq, hash FROM ledger_seals ORDER BY seq")
        ]
        sources = conn.execute(
            "SELECT event_id, transaction_id, event_type, context FROM ledger_source_events"
            " ORDER BY transaction_id"
        ).fetchall()
        news = [
            (bytes(key), decode(bytes(value)).data)
            for key, value in conn.execute("SELECT key, value FROM outbox ORDER BY id")
        ]
    return LedgerState(transactions, balances, seals, sources, news)


def assert_verifies(url: str) -> None:
    with psycopg.connect(url) as conn:
        result = verify(conn)
    assert result.ok, (result.first_break, result.balance_breaks, result.guard_breaks)


class LedgerPair:
    """Two ledgers that have been posted the same events, one way and the other.

    Examples share them (a fresh pair per example would cost a second each); an example that
    failed leaves them disagreeing, so the next one is given a fresh pair and is judged alone.
    """

    def __init__(self, fresh_ledger: Callable[[], str]) -> None:
        self.fresh_ledger = fresh_ledger
        self.urls: tuple[str, str] | None = None
        self.agree = False

    def take(self) -> tuple[str, str]:
        if self.urls is None or not self.agree:
            self.urls = (self.fresh_ledger(), self.fresh_ledger())
        self.agree = False
        return self.urls

    def agreed(self) -> None:
        self.agree = True


@pytest.fixture
def ledger_pair(fresh_ledger: Callable[[], str]) -> Iterator[LedgerPair]:
    yield LedgerPair(fresh_ledger)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    merchants=st.integers(min_value=1, max_value=3),
    sequence=steps,
    # batches of five events on average: a rule and what it decides on often share one
    cut_after=st.lists(st.sampled_from([False] * 4 + [True]), min_size=30, max_size=30),
)
def test_a_stream_posted_in_any_batches_is_posted_as_one_event_at_a_time(
    ledger_pair: LedgerPair,
    merchants: int,
    sequence: list[tuple[Any, ...]],
    cut_after: list[bool],
) -> None:
    stream = Stream(merchants)
    for step in sequence:
        stream.step(step)
    one_at_a_time, batched = ledger_pair.take()
    post_in_batches(batched, split(stream.events, cut_after))
    post_one_at_a_time(one_at_a_time, stream.events, recorded_times(batched))
    expected, actual = state_of(one_at_a_time), state_of(batched)
    assert actual.transactions == expected.transactions
    assert actual.balances == expected.balances
    assert actual.seals == expected.seals
    assert actual.sources == expected.sources
    assert actual.news == expected.news
    assert_verifies(batched)
    ledger_pair.agreed()


# --- examples: one batch each, decided on what came before it in the same batch ---


@dataclass(frozen=True)
class SharedLedger:
    """The session's ledger, for examples that each post one batch for a fresh merchant."""

    url: str

    def post_batch(self, events: Sequence[Envelope]) -> None:
        post_in_batches(self.url, [events])

    def entries_of(self, business_key: str) -> list[list[tuple[str, str, int]]]:
        """The entries of every transaction about ``business_key``, one list per transaction."""
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT t.id, a.code, e.side, e.amount FROM ledger_transactions t"
                " JOIN ledger_entries e ON e.transaction_id = t.id"
                " JOIN ledger_accounts a ON a.id = e.account_id"
                " WHERE t.business_key = %s ORDER BY e.id",
                (business_key,),
            ).fetchall()
        by_transaction: dict[str, list[tuple[str, str, int]]] = {}
        for transaction_id, code, side, amount in rows:
            by_transaction.setdefault(transaction_id, []).append((code, side, amount))
        return list(by_transaction.values())

    def merchant_balances(self, merchant: str) -> dict[str, int]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT a.code, sum(b.balance) FROM ledger_accounts a"
                " JOIN ledger_balances b ON b.account_id = a.id WHERE a.merchant_id = %s"
                " GROUP BY a.code",
                (merchant,),
            ).fetchall()
        found = {code.rsplit(":", 1)[1]: int(total) for code, total in rows}
        return {kind: found.get(kind, 0) for kind in accounts.MERCHANT_ACCOUNT_KINDS}


@pytest.fixture
def ledger(ledger_url: str) -> SharedLedger:
    return SharedLedger(ledger_url)


def test_a_refund_in_the_batch_of_its_payment_is_taken_from_the_escrow_that_payment_filled(
    ledger: SharedLedger, event: MakeEvent, payment_facts: PaymentFacts, merchant: str
) -> None:
    payment = payment_facts(10_000)
    refund = refund_of(payment, 4_000)
    ledger.post_batch([event("payment.succeeded", payment), event("refund.succeeded", refund)])
    assert ledger.entries_of(f"refund:{refund['refund_id']}") == [
        [(accounts.escrow(merchant), "debit", 4_000), (accounts.PSP_CLEARING, "credit", 4_000)]
    ]
    assert ledger.merchant_balances(merchant)["receivable"] == 0
    assert ledger.merchant_balances(merchant)["escrow"] == 10_000 - FEE.fee_for(10_000) - 4_000


def test_a_refund_repeated_in_its_batch_is_posted_once_and_not_counted_in_a_later_refund(
    ledger: SharedLedger, event: MakeEvent, payment_facts: PaymentFacts, merchant: str
) -> None:
    payment = payment_facts(10_000)
    first, later = refund_of(payment, 6_000), refund_of(payment, 6_000)
    ledger.post_batch(
        [
            event("payment.succeeded", payment),
            event("refund.succeeded", first),
            event("refund.succeeded", first),  # the same refund under a new event id
            event("refund.succeeded", later),
        ]
    )
    held_for_later = 10_000 - FEE.fee_for(10_000) - 6_000
    assert len(ledger.entries_of(f"refund:{first['refund_id']}")) == 1
    assert ledger.entries_of(f"refund:{later['refund_id']}") == [
        [
            (accounts.escrow(merchant), "debit", held_for_later),
            (accounts.receivable(merchant), "debit", 6_000 - held_for_later),
            (accounts.PSP_CLEARING, "credit", 6_000),
        ]
    ]
    held = ledger.merchant_balances(merchant)
    assert (held["escrow"], held["receivable"]) == (0, 6_000 - held_for_later)


def test_a_correction_to_failed_in_the_batch_of_its_payment_reverses_that_payment(
    ledger: SharedLedger, event: MakeEvent, payment_facts: PaymentFacts, merchant: str
) -> None:
    payment = payment_facts(10_000)
    correction = {**payment, "failure_code": "chargeback", "corrected_from": "succeeded"}
    ledger.post_batch([event("payment.succeeded", payment), event("payment.failed", correction)])
    fee = FEE.fee_for(10_000)
    assert ledger.entries_of(f"payment_reversal:{payment['payment_id']}") == [
        [
            (accounts.escrow(merchant), "debit", 10_000 - fee),
            (accounts.PLATFORM_FEES, "debit", fee),
            (accounts.PSP_CLEARING, "credit", 10_000),
        ]
    ]
    assert set(ledger.merchant_balances(merchant).values()) == {0}


def test_a_reversal_after_a_failure_that_moved_nothing_in_the_same_batch_is_posted(
    fresh_ledger: Callable[[], str], event: MakeEvent, payment_facts: PaymentFacts
) -> None:
    """The PSP reported a decline, then corrected it to a success, then back to a failure."""
    payment = payment_facts(10_000)
    declined = {**payment, "failure_code": "card_declined"}
    stream = [
        event("payment.failed", declined),  # moves no money
        event("payment.succeeded", {**payment, "corrected_from": "failed"}),
        event("payment.failed", {**declined, "corrected_from": "succeeded"}),
    ]
    one_at_a_time, batched = fresh_ledger(), fresh_ledger()
    post_in_batches(batched, [stream])
    post_one_at_a_time(one_at_a_time, stream, recorded_times(batched))
    assert [t[2] for t in state_of(one_at_a_time).transactions] == ["payment", "payment_reversal"]
    assert state_of(batched).transactions == state_of(one_at_a_time).transactions

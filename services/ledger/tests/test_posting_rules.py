"""Property tests of the posting rules: whatever the sequence of payments, refunds (before and
after settlement), reversals, batch closings and payout outcomes, every transaction balances,
the trial balance is zero, escrow and payable never go negative, and each merchant's balances
are what its events imply."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import event, given, settings
from hypothesis import strategies as st

from ledger_service.domain import accounts, postings
from ledger_service.domain.accounts import Side
from ledger_service.domain.fees import FeeRule, parse_fee_policy
from ledger_service.domain.postings import Posting

MERCHANT = "MER_1"
CURRENCY = "EUR"


@dataclass
class Payment:
    id: str
    amount: int
    posting: Posting
    refunded: int = 0
    reversed: bool = False


@dataclass
class Books:
    """The ledger in memory: balances on each account's normal side, moved only by postings.

    Beside it, what a settlement service would compute: the merchant's unsettled net (payments
    less fees less refunds, plus failed payouts to pay again; a negative net is carried).
    """

    fee: FeeRule
    balances: Counter[str] = field(default_factory=Counter)
    payments: list[Payment] = field(default_factory=list)
    unsettled: int = 0
    batches: int = 0
    open_payout: tuple[str, int] | None = None
    captured: int = 0
    fees: int = 0
    refunded: int = 0
    paid_out: int = 0

    def post(self, posting: Posting | None) -> None:
        if posting is None:
            return
        assert posting.total(Side.DEBIT) == posting.total(Side.CREDIT)
        assert len(posting.entries) >= 2 and all(e.amount > 0 for e in posting.entries)
        assert posting.currency == CURRENCY
        for account in {entry.account for entry in posting.entries}:
            self.balances[account] += posting.movement(account)
        for account in (
            accounts.escrow(MERCHANT),
            accounts.payable(MERCHANT),
            accounts.receivable(MERCHANT),
        ):
            assert self.balances[account] >= 0, (account, self.balances[account])

    def pay(self, amount: int) -> None:
        fee = self.fee.fee_for(amount)
        pid = f"PAY_{len(self.payments)}"
        posting = postings.payment_succeeded(MERCHANT, pid, amount, CURRENCY, fee)
        self.payments.append(Payment(pid, amount, posting))
        self.post(posting)
        self.captured += amount
        self.fees += fee
        self.unsettled += amount - fee

    def refund(self, which: float, part: float) -> None:
        candidates = [p for p in self.payments if p.refunded < p.amount and not p.reversed]
        if not candidates:
            return
        payment = candidates[int(which * (len(candidates) - 1))]
        amount = max(1, int((payment.amount - payment.refunded) * part))
        held = self.balances[accounts.escrow(MERCHANT)]
        self.post(
            postings.refund_succeeded(
                MERCHANT, payment.id, f"ref_{payment.id}_{payment.refunded}", amount, CURRENCY, held
            )
        )
        payment.refunded += amount
        self.refunded += amount
        self.unsettled -= amount

    def reverse(self, which: float) -> None:
        """The PSP's record overturns a success (only of a payment nothing was refunded of)."""
        candidates = [p for p in self.payments if not p.refunded and not p.reversed]
        if not candidates:
            return
        payment = candidates[int(which * (len(candidates) - 1))]
        held = self.balances[accounts.escrow(MERCHANT)]
        self.post(
            postings.payment_reversed(MERCHANT, payment.id, payment.posting.entries, CURRENCY, held)
        )
        payment.reversed = True
        fee = payment.posting.movement(accounts.PLATFORM_FEES)
        self.captured -= payment.amount
        self.fees -= fee
        self.unsettled -= payment.amount - fee

    def close_batch(self) -> None:
        if self.open_payout is not None:
            return
        self.batches += 1
        batch = f"bat_{self.batches}"
        net = self.unsettled
        self.post(
            postings.batch_closed(
                MERCHANT,
                batch,
                CURRENCY,
                net,
                self.balances[accounts.escrow(MERCHANT)],
                self.balances[accounts.receivable(MERCHANT)],
            )
        )
        if net > 0:
            self.unsettled -= net
            self.open_payout = (batch, net)

    def payout_ends(self, paid: bool) -> None:
        if self.open_payout is None:
            return
        batch, amount = self.open_payout
        rule = postings.batch_paid if paid else postings.batch_failed
        held = self.balances[accounts.payable(MERCHANT)]
        self.post(rule(MERCHANT, batch, CURRENCY, amount, held))
        if paid:
            self.paid_out += amount
        else:
            self.unsettled += amount
        self.open_payout = None

    def trial_balance(self) -> int:
        """Debit-normal balances less credit-normal ones: zero when the books balance."""
        total = 0
        for code, balance in self.balances.items():
            debit_normal = accounts.spec_for(code).normal_side is Side.DEBIT
            total += balance if debit_normal else -balance
        return total


payments = st.tuples(st.just("pay"), st.integers(min_value=1, max_value=2_000_000))
operations = st.lists(
    st.one_of(
        payments,
        payments,
        payments,
        st.tuples(st.just("refund"), st.floats(0, 1), st.floats(0, 1)),
        st.tuples(st.just("reverse"), st.floats(0, 1)),
        st.tuples(st.just("close")),
        st.tuples(st.just("paid")),
        st.tuples(st.just("failed")),
    ),
    min_size=5,
    max_size=60,
)
fee_rules = st.builds(
    FeeRule, st.integers(min_value=0, max_value=2_000), st.integers(min_value=0, max_value=500)
)


@settings(max_examples=1000, deadline=None)
@given(fee=fee_rules, steps=operations)
def test_any_sequence_of_facts_keeps_the_books_balanced_and_as_the_events_imply(
    fee: FeeRule, steps: list[tuple[object, ...]]
) -> None:
    books = Books(fee)
    for step in steps:
        match step:
            case ("pay", int(amount)):
                books.pay(amount)
            case ("refund", float(which), float(part)):
                books.refund(which, part)
            case ("reverse", float(which)):
                books.reverse(which)
            case ("close",):
                books.close_batch()
            case ("paid",) | ("failed",):
                books.payout_ends(step[0] == "paid")
        assert books.trial_balance() == 0

    event(f"receivable used: {books.balances[accounts.receivable(MERCHANT)] > 0}")
    event(f"batches paid: {books.paid_out > 0}")
    held = books.balances
    escrow = held[accounts.escrow(MERCHANT)]
    payable = held[accounts.payable(MERCHANT)]
    owed = held[accounts.receivable(MERCHANT)]
    assert escrow + payable - owed == books.captured - books.fees - books.refunded - books.paid_out
    assert escrow - owed == books.unsettled  # what settlement will pay next, netted
    assert held[accounts.PSP_CLEARING] == books.captured - books.refunded
    assert held[accounts.PLATFORM_FEES] == books.fees
    assert held[accounts.BANK_PAYOUTS] == -books.paid_out


@given(
    amount=st.integers(min_value=1, max_value=2**53 - 1),
    basis_points=st.integers(min_value=0, max_value=10_000),
    fixed=st.integers(min_value=0, max_value=10_000),
)
def test_a_fee_is_rounded_half_up_and_never_above_the_amount(
    amount: int, basis_points: int, fixed: int
) -> None:
    fee = FeeRule(basis_points, fixed).fee_for(amount)
    exact = amount * basis_points / 10_000
    assert 0 <= fee <= amount
    if fee < amount:
        assert abs(fee - fixed - exact) <= 0.5


def test_a_fee_policy_reads_per_currency_rules_and_a_default() -> None:
    policy = parse_fee_policy("EUR=140+25, USD=290+30, *=250+0")
    assert policy.fee_for(10_000, "EUR") == 165
    assert policy.fee_for(10_000, "USD") == 320
    assert policy.fee_for(10_000, "JPY") == 250
    assert policy.fee_for(5, "EUR") == 5  # capped at the amount


def test_a_refund_beyond_escrow_is_owed_by_the_merchant() -> None:
    posting = postings.refund_succeeded(MERCHANT, "PAY_1", "ref_1", 1_000, CURRENCY, 300)
    assert {(e.account, e.side, e.amount) for e in posting.entries} == {
        (accounts.escrow(MERCHANT), Side.DEBIT, 300),
        (accounts.receivable(MERCHANT), Side.DEBIT, 700),
        (accounts.PSP_CLEARING, Side.CREDIT, 1_000),
    }


def test_a_closing_batch_nets_what_the_merchant_owes_against_escrow_beyond_the_payout() -> None:
    posting = postings.batch_closed(MERCHANT, "bat_1", CURRENCY, 5_000, 6_000, 700)
    assert posting is not None
    assert {(e.account, e.side, e.amount) for e in posting.entries} == {
        (accounts.escrow(MERCHANT), Side.DEBIT, 5_700),
        (accounts.payable(MERCHANT), Side.CREDIT, 5_000),
        (accounts.receivable(MERCHANT), Side.CREDIT, 700),
    }


def test_the_worked_example_of_the_readme() -> None:
    books = Books(FeeRule(140, 25))
    escrow, payable, owed = (
        accounts.escrow(MERCHANT),
        accounts.payable(MERCHANT),
        accounts.receivable(MERCHANT),
    )

    def held() -> tuple[int, int, int]:
        return books.balances[escrow], books.balances[payable], books.balances[owed]

    books.pay(10_000)
    books.pay(5_000)
    assert held() == (14_740, 0, 0)
    books.post(postings.refund_succeeded(MERCHANT, "PAY_0", "ref_a", 3_000, CURRENCY, 14_740))
    assert held() == (11_740, 0, 0)
    books.post(postings.batch_closed(MERCHANT, "bat_1", CURRENCY, 11_740, 11_740, 0))
    assert held() == (0, 11_740, 0)
    books.post(postings.refund_succeeded(MERCHANT, "PAY_1", "ref_b", 2_000, CURRENCY, 0))
    assert held() == (0, 11_740, 2_000)
    books.post(postings.batch_paid(MERCHANT, "bat_1", CURRENCY, 11_740, 11_740))
    books.pay(8_000)
    assert held() == (7_863, 0, 2_000)
    books.post(postings.batch_closed(MERCHANT, "bat_2", CURRENCY, 5_863, 7_863, 2_000))
    assert held() == (0, 5_863, 0)
    books.post(postings.batch_failed(MERCHANT, "bat_2", CURRENCY, 5_863, 5_863))
    assert held() == (5_863, 0, 0)
    assert books.trial_balance() == 0
    # the failed batch is tried again: back to payable, then paid as attempt 2
    books.post(
        postings.batch_resubmitted(MERCHANT, "bat_2", CURRENCY, 5_863, 5_863, attempt=2)
        or _nothing_moved()
    )
    assert held() == (0, 5_863, 0)
    books.post(postings.batch_paid(MERCHANT, "bat_2", CURRENCY, 5_863, 5_863, attempt=2))
    assert held() == (0, 0, 0)
    assert books.trial_balance() == 0


def _nothing_moved() -> Posting:
    raise AssertionError("a retried payout moves its money to payable again")


def test_the_first_payout_attempt_moves_nothing_when_submitted() -> None:
    assert postings.batch_resubmitted(MERCHANT, "bat_1", CURRENCY, 500, 0, attempt=1) is None


def test_a_retry_whose_money_escrow_no_longer_holds_makes_the_merchant_owe_the_rest() -> None:
    retried = postings.batch_resubmitted(MERCHANT, "bat_1", CURRENCY, 500, 400, attempt=2)
    assert retried is not None
    assert set(retried.entries) == {
        postings.Entry(accounts.escrow(MERCHANT), Side.DEBIT, 400),
        postings.Entry(accounts.receivable(MERCHANT), Side.DEBIT, 100),
        postings.Entry(accounts.payable(MERCHANT), Side.CREDIT, 500),
    }


def test_each_payout_attempt_has_one_outcome() -> None:
    paid = postings.batch_paid(MERCHANT, "bat_1", CURRENCY, 500, 500, attempt=1)
    failed = postings.batch_failed(MERCHANT, "bat_1", CURRENCY, 500, 500, attempt=1)
    retried = postings.batch_paid(MERCHANT, "bat_1", CURRENCY, 500, 500, attempt=2)
    assert paid.business_key == failed.business_key != retried.business_key

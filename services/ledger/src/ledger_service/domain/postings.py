"""The posting rules: which balanced entries each fact of the platform becomes.

Pure functions of the fact and the balances that bound it (what escrow holds, what the merchant
owes), so they are tested exhaustively without a database. Zero amounts are left out: an entry
moves a positive amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger_service.domain import accounts
from ledger_service.domain.accounts import Side
from ledger_service.domain.errors import CannotPost, InvalidPosting


@dataclass(frozen=True)
class Entry:
    account: str
    side: Side
    amount: int


@dataclass(frozen=True)
class Posting:
    """A journal transaction about to be recorded: balanced, one currency, two entries or more."""

    kind: str
    business_key: str
    currency: str
    entries: tuple[Entry, ...]
    merchant_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    settlement_batch_id: str | None = None
    reason: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        if len(self.entries) < 2:
            raise InvalidPosting("a transaction needs at least two entries")
        if any(entry.amount <= 0 for entry in self.entries):
            raise InvalidPosting("every entry moves a positive amount")
        debits = self.total(Side.DEBIT)
        credits = self.total(Side.CREDIT)
        if debits != credits:
            raise InvalidPosting(f"debits {debits} do not equal credits {credits}")

    def total(self, side: Side) -> int:
        return sum(entry.amount for entry in self.entries if entry.side is side)

    def movement(self, account: str) -> int:
        """How the posting changes ``account``'s balance, on the account's normal side."""
        normal = accounts.spec_for(account).normal_side
        return sum(
            entry.amount if entry.side is normal else -entry.amount
            for entry in self.entries
            if entry.account == account
        )


def entry_views(entries: Iterable[Entry]) -> list[dict[str, str | int]]:
    """Entries as events and the API show them."""
    return [{"account": e.account, "direction": e.side.value, "amount": e.amount} for e in entries]


def _entries(*moves: tuple[str, Side, int]) -> tuple[Entry, ...]:
    return tuple(Entry(account, side, amount) for account, side, amount in moves if amount > 0)


def payment_succeeded(
    merchant_id: str, payment_id: str, amount: int, currency: str, fee: int
) -> Posting:
    """The PSP owes us A; the merchant is owed A - F, held in escrow; the platform earned F."""
    if not 0 <= fee <= amount:
        raise CannotPost(f"fee {fee} is outside 0..{amount}")
    return Posting(
        kind="payment",
        business_key=f"payment:{payment_id}",
        currency=currency,
        entries=_entries(
            (accounts.PSP_CLEARING, Side.DEBIT, amount),
            (accounts.escrow(merchant_id), Side.CREDIT, amount - fee),
            (accounts.PLATFORM_FEES, Side.CREDIT, fee),
        ),
        merchant_id=merchant_id,
        payment_id=payment_id,
    )


def _split(amount: int, escrow_held: int) -> tuple[int, int]:
    """What escrow covers of ``amount``, and what the merchant owes for the rest."""
    from_escrow = min(amount, max(escrow_held, 0))
    return from_escrow, amount - from_escrow


def refund_succeeded(
    merchant_id: str,
    payment_id: str,
    refund_id: str,
    amount: int,
    currency: str,
    escrow_held: int,
) -> Posting:
    """R went back to the customer: escrow pays as far as it holds, the merchant owes the rest.

    The fee is not returned: the platform keeps the fee of a refunded payment.
    """
    from_escrow, owed = _split(amount, escrow_held)
    return Posting(
        kind="refund",
        business_key=f"refund:{refund_id}",
        currency=currency,
        entries=_entries(
            (accounts.escrow(merchant_id), Side.DEBIT, from_escrow),
            (accounts.receivable(merchant_id), Side.DEBIT, owed),
            (accounts.PSP_CLEARING, Side.CREDIT, amount),
        ),
        merchant_id=merchant_id,
        payment_id=payment_id,
        refund_id=refund_id,
    )


def payment_reversed(
    merchant_id: str,
    payment_id: str,
    original: Iterable[Entry],
    currency: str,
    escrow_held: int,
) -> Posting:
    """The PSP's record overturned a success: undo the payment's posting, fee included.

    What escrow no longer holds (already settled) becomes owed by the merchant.
    """
    moved = list(original)
    amount = sum(e.amount for e in moved if e.account == accounts.PSP_CLEARING)
    fee = sum(e.amount for e in moved if e.account == accounts.PLATFORM_FEES)
    from_escrow, owed = _split(amount - fee, escrow_held)
    return Posting(
        kind="payment_reversal",
        business_key=f"payment_reversal:{payment_id}",
        currency=currency,
        entries=_entries(
            (accounts.escrow(merchant_id), Side.DEBIT, from_escrow),
            (accounts.receivable(merchant_id), Side.DEBIT, owed),
            (accounts.PLATFORM_FEES, Side.DEBIT, fee),
            (accounts.PSP_CLEARING, Side.CREDIT, amount),
        ),
        merchant_id=merchant_id,
        payment_id=payment_id,
    )


def batch_closed(
    merchant_id: str,
    batch_id: str,
    currency: str,
    net_amount: int,
    escrow_held: int,
    receivable_owed: int,
) -> Posting | None:
    """A settlement batch closed with net N: N moves from escrow to payable.

    Then what the merchant owes (receivable) is netted against what escrow still holds beyond
    N, as far as it reaches. A batch with N <= 0 pays nothing out; its refunds were already
    taken from escrow or recorded as owed when they happened. None when nothing moves.
    """
    payout = max(net_amount, 0)
    if escrow_held < payout:
        raise CannotPost(
            f"batch {batch_id} pays out {payout} but escrow holds {escrow_held} {currency}"
        )
    netted = min(max(receivable_owed, 0), escrow_held - payout)
    if payout + netted == 0:
        return None
    return Posting(
        kind="settlement",
        business_key=f"settlement:{batch_id}",
        currency=currency,
        entries=_entries(
            (accounts.escrow(merchant_id), Side.DEBIT, payout + netted),
            (accounts.payable(merchant_id), Side.CREDIT, payout),
            (accounts.receivable(merchant_id), Side.CREDIT, netted),
        ),
        merchant_id=merchant_id,
        settlement_batch_id=batch_id,
    )


def batch_resubmitted(
    merchant_id: str,
    batch_id: str,
    currency: str,
    amount: int,
    escrow_held: int,
    *,
    attempt: int,
) -> Posting | None:
    """A failed batch's payout is tried again: what it owes moves to payable once more.

    The failure put the money back in escrow; since then a closing may have netted what the
    merchant owed against it, or a refund taken from it. The batch still pays what it owed:
    escrow pays as far as it holds and the merchant owes the rest (receivable), as for a
    refund, so a retry is never refused. The first attempt moves nothing here (the batch's
    closing did); None then.
    """
    if attempt < 2:
        return None
    from_escrow, owed = _split(amount, escrow_held)
    return Posting(
        kind="settlement",
        business_key=f"settlement:{batch_id}:{attempt}",
        currency=currency,
        entries=_entries(
            (accounts.escrow(merchant_id), Side.DEBIT, from_escrow),
            (accounts.receivable(merchant_id), Side.DEBIT, owed),
            (accounts.payable(merchant_id), Side.CREDIT, amount),
        ),
        merchant_id=merchant_id,
        settlement_batch_id=batch_id,
    )


def _payout_outcome(
    kind: str,
    merchant_id: str,
    batch_id: str,
    currency: str,
    amount: int,
    payable_held: int,
    attempt: int,
) -> Posting:
    """A payout attempt ended: payable empties to where the money went (one per attempt)."""
    if payable_held < amount:
        raise CannotPost(f"batch {batch_id}: {kind} of {amount} but payable holds {payable_held}")
    destination = accounts.BANK_PAYOUTS if kind == "payout" else accounts.escrow(merchant_id)
    return Posting(
        kind=kind,
        business_key=payout_outcome_key(batch_id, attempt),
        currency=currency,
        entries=_entries(
            (accounts.payable(merchant_id), Side.DEBIT, amount),
            (destination, Side.CREDIT, amount),
        ),
        merchant_id=merchant_id,
        settlement_batch_id=batch_id,
    )


def payout_outcome_key(batch_id: str, attempt: int) -> str:
    """One outcome per payout attempt: a paid and a failed report of one attempt collide."""
    return f"payout_outcome:{batch_id}:{attempt}"


def batch_paid(
    merchant_id: str,
    batch_id: str,
    currency: str,
    amount: int,
    payable_held: int,
    *,
    attempt: int = 1,
) -> Posting:
    """The payout reached the merchant's bank: payable to the platform's payout account."""
    return _payout_outcome("payout", merchant_id, batch_id, currency, amount, payable_held, attempt)


def batch_failed(
    merchant_id: str,
    batch_id: str,
    currency: str,
    amount: int,
    payable_held: int,
    *,
    attempt: int = 1,
) -> Posting:
    """The payout did not go through: the money goes back to escrow, owed to the merchant."""
    return _payout_outcome(
        "payout_reversal", merchant_id, batch_id, currency, amount, payable_held, attempt
    )


def adjustment(
    reference: str,
    currency: str,
    entries: Iterable[Entry],
    *,
    reason: str,
    actor: str,
) -> Posting:
    """An operator's correction: a balanced transaction of its own, never an edit."""
    moved = tuple(entries)
    if not reason.strip() or not actor.strip():
        raise InvalidPosting("an adjustment needs a reason and an actor")
    for entry in moved:
        accounts.spec_for(entry.account)
    merchants = {accounts.merchant_of(entry.account) for entry in moved} - {None}
    if len(merchants) > 1:
        raise InvalidPosting("an adjustment touches the accounts of one merchant at most")
    return Posting(
        kind="adjustment",
        business_key=f"adjustment:{reference}",
        currency=currency,
        entries=moved,
        merchant_id=next(iter(merchants), None),
        reason=reason,
        actor=actor,
    )

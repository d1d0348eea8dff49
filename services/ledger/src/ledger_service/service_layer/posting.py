"""Posting an event: the rule for its type, the balances it depends on, the record, the news.

Everything happens in the caller's database transaction (the consumer's batch, with the inbox
row): the journal transaction, its entries, the balances (by trigger), the event it came from
and the ``ledger.transaction_posted`` outbox row commit together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.domain import accounts, postings
from ledger_service.domain.errors import CannotPost, InvalidPosting, UnknownAccount
from ledger_service.domain.fees import FeePolicy
from ledger_service.domain.postings import Posting
from payevents import Envelope, encode, new_event
from payevents.topics import LEDGER_EVENTS
from paykit.outbox import enqueue

log = structlog.get_logger(__name__)

SOURCE: Final = "ledger-service"
POSTED_EVENT: Final = "ledger.transaction_posted"


@dataclass(frozen=True)
class Recorded:
    transaction_id: str
    posting: Posting


@dataclass(frozen=True)
class PostingInput:
    """What a rule needs besides the event: the repository and what was decided before.

    ``context`` is stored with the event; on a rebuild the stored one is passed back, so a rule
    decides what it decided then (the fee under the policy of that day).
    """

    repository: LedgerRepository
    fees: FeePolicy
    context: dict[str, Any] = field(default_factory=dict)
    replaying: bool = False


def transaction_id_for(reference: str) -> str:
    """Derived from the cause, so a rebuild gives every transaction the id it had."""
    return "ltx_" + hashlib.sha256(reference.encode()).hexdigest()[:32]


def _payment_succeeded(data: Mapping[str, Any], given: PostingInput) -> Posting:
    if "fee" in given.context:
        fee = int(given.context["fee"])
    else:
        fee = given.fees.fee_for(data["amount"], data["currency"])
        given.context["fee"] = fee
        given.context["fee_rule"] = given.fees.rule_for(data["currency"]).describe()
    return postings.payment_succeeded(
        data["merchant_id"], data["payment_id"], data["amount"], data["currency"], fee
    )


def _payment_failed(data: Mapping[str, Any], given: PostingInput) -> Posting | None:
    """Only a correction of a success moves money: the payment's posting is reversed."""
    if data.get("corrected_from") != "succeeded":
        return None
    original = given.repository.entries_of(f"payment:{data['payment_id']}")
    if original is None:
        return None
    merchant, currency = data["merchant_id"], data["currency"]
    held = given.repository.locked_balance(accounts.escrow(merchant), currency)
    return postings.payment_reversed(merchant, data["payment_id"], original[1], currency, held)


def _refund_succeeded(data: Mapping[str, Any], given: PostingInput) -> Posting:
    merchant, currency = data["merchant_id"], data["currency"]
    held = given.repository.locked_balance(accounts.escrow(merchant), currency)
    return postings.refund_succeeded(
        merchant, data["payment_id"], data["refund_id"], data["amount"], currency, held
    )


def _batch_closed(data: Mapping[str, Any], given: PostingInput) -> Posting | None:
    merchant, currency = data["merchant_id"], data["currency"]
    held = given.repository.locked_balance(accounts.escrow(merchant), currency)
    owed = given.repository.locked_balance(accounts.receivable(merchant), currency)
    return postings.batch_closed(
        merchant, data["batch_id"], currency, data["net_amount"], held, owed
    )


def _payout_outcome(
    rule: Callable[[str, str, str, int, int], Posting],
) -> Callable[[Mapping[str, Any], PostingInput], Posting]:
    def build(data: Mapping[str, Any], given: PostingInput) -> Posting:
        merchant, currency = data["merchant_id"], data["currency"]
        held = given.repository.locked_balance(accounts.payable(merchant), currency)
        return rule(merchant, data["batch_id"], currency, data["amount"], held)

    return build


Rule = Callable[[Mapping[str, Any], PostingInput], Posting | None]
RULES: Final[dict[str, tuple[Callable[[Mapping[str, Any]], str], Rule]]] = {
    "payment.succeeded": (lambda d: f"payment:{d['payment_id']}", _payment_succeeded),
    "payment.failed": (lambda d: f"payment_reversal:{d['payment_id']}", _payment_failed),
    "refund.succeeded": (lambda d: f"refund:{d['refund_id']}", _refund_succeeded),
    "settlement.batch_closed": (lambda d: f"settlement:{d['batch_id']}", _batch_closed),
    "settlement.batch_paid": (
        lambda d: f"payout_outcome:{d['batch_id']}",
        _payout_outcome(postings.batch_paid),
    ),
    "settlement.batch_failed": (
        lambda d: f"payout_outcome:{d['batch_id']}",
        _payout_outcome(postings.batch_failed),
    ),
}


def post_event(
    envelope: Envelope,
    given: PostingInput,
    *,
    recorded_at: datetime | None = None,
) -> Recorded | None:
    """Post what the event means, once; None when it moves no money or was posted before.

    Raises CannotPost when the event cannot become a balanced posting: no retry will fix it.
    """
    rule = RULES.get(envelope.type)
    if rule is None:
        return None
    business_key, build = rule
    repository = given.repository
    if repository.is_posted(envelope.id, business_key(envelope.data)):
        log.info("ledger_already_posted", event_id=envelope.id, event_type=envelope.type)
        return None
    try:
        posting = build(envelope.data, given)
    except (InvalidPosting, UnknownAccount) as error:
        raise CannotPost(f"{envelope.type} {envelope.id}: {error}") from error
    if posting is None:
        return None
    transaction_id = transaction_id_for(envelope.id)
    body = encode(envelope)[0].decode()
    with repository.conn.pipeline():  # the writes need no answers: one round trip for all
        repository.record(
            transaction_id,
            envelope.id,
            posting,
            effective_at=envelope.occurred_at,
            recorded_at=recorded_at,
        )
        repository.keep_source(envelope.id, transaction_id, envelope.type, body, given.context)
        if not given.replaying:
            announce(repository, transaction_id, posting, envelope.occurred_at, cause=envelope)
    return Recorded(transaction_id, posting)


def announce(
    repository: LedgerRepository,
    transaction_id: str,
    posting: Posting,
    effective_at: datetime,
    *,
    cause: Envelope | None,
) -> None:
    """``ledger.transaction_posted`` through the outbox, for transactions of a merchant."""
    if posting.merchant_id is None:
        return
    data = {
        "transaction_id": transaction_id,
        "kind": posting.kind,
        "merchant_id": posting.merchant_id,
        "currency": posting.currency,
        "entries": postings.entry_views(posting.entries),
        "payment_id": posting.payment_id,
        "refund_id": posting.refund_id,
        "settlement_batch_id": posting.settlement_batch_id,
        "cause_event_id": cause.id if cause else None,
        "cause_type": cause.type if cause else None,
        "effective_at": effective_at,
    }
    event = new_event(
        POSTED_EVENT, data, source=SOURCE, subject=posting.merchant_id, causation=cause
    )
    enqueue(repository.conn, event, topic=LEDGER_EVENTS.name, key=posting.merchant_id)

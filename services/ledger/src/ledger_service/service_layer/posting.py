"""Posting events: the rule for each type, the balances it depends on, the record, the news.

Everything happens in the caller's database transaction (the consumer's batch, with the inbox
rows): the journal transactions, their entries, the balances (by trigger), the events they came
from and the ``ledger.transaction_posted`` outbox rows commit together or not at all.

A batch is written as a set: a handful of statements whatever its size, one balance update per
account and one pass of seals at commit. A rule that reads a balance to decide (a refund, a
reversal, a settlement) first writes what came before it, so it decides on the balances of
everything before it in the stream, exactly as when events are posted one at a time; posting a
batch or its events one by one gives the same transactions, balances and seals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog

from ledger_service.adapters.ledger_repository import LedgerRepository, Record, Source
from ledger_service.domain import accounts, postings
from ledger_service.domain.errors import CannotPost, InvalidPosting, UnknownAccount
from ledger_service.domain.fees import FeePolicy
from ledger_service.domain.postings import Posting
from ledger_service.service_layer.holdings import Holdings
from payevents import Envelope, encode, new_event
from payevents.topics import LEDGER_EVENTS
from paykit.outbox import enqueue_many

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
    holdings: Holdings | None = None

    def balance(self, code: str, currency: str) -> int:
        """A balance to decide on: as sealed before this posting, and what its batch planned."""
        if self.holdings is None:
            return self.repository.locked_balance(code, currency)
        return self.holdings.balance(code, currency)


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
    held = given.balance(accounts.escrow(merchant), currency)
    return postings.payment_reversed(merchant, data["payment_id"], original[1], currency, held)


def _refund_succeeded(data: Mapping[str, Any], given: PostingInput) -> Posting:
    merchant, currency = data["merchant_id"], data["currency"]
    held = given.balance(accounts.escrow(merchant), currency)
    return postings.refund_succeeded(
        merchant, data["payment_id"], data["refund_id"], data["amount"], currency, held
    )


def _batch_closed(data: Mapping[str, Any], given: PostingInput) -> Posting | None:
    merchant, currency = data["merchant_id"], data["currency"]
    held = given.balance(accounts.escrow(merchant), currency)
    owed = given.balance(accounts.receivable(merchant), currency)
    return postings.batch_closed(
        merchant, data["batch_id"], currency, data["net_amount"], held, owed
    )


def _batch_submitted(data: Mapping[str, Any], given: PostingInput) -> Posting | None:
    merchant, currency = data["merchant_id"], data["currency"]
    if data["attempt"] < 2:
        return None  # the closing moved the money to payable already; no balance to read
    held = given.balance(accounts.escrow(merchant), currency)
    return postings.batch_resubmitted(
        merchant, data["batch_id"], currency, data["amount"], held, attempt=data["attempt"]
    )


def _payout_outcome(
    rule: Callable[..., Posting],
) -> Callable[[Mapping[str, Any], PostingInput], Posting]:
    def build(data: Mapping[str, Any], given: PostingInput) -> Posting:
        merchant, currency = data["merchant_id"], data["currency"]
        held = given.balance(accounts.payable(merchant), currency)
        return rule(
            merchant, data["batch_id"], currency, data["amount"], held, attempt=data["attempt"]
        )

    return build


Build = Callable[[Mapping[str, Any], PostingInput], Posting | None]


@dataclass(frozen=True)
class Rule:
    business_key: Callable[[Mapping[str, Any]], str]
    build: Build
    # Decides on a balance (a refund takes from escrow as far as it holds): planned in stream
    # order on its batch's holdings, after the rules that decide on nothing.
    decides: bool = True
    # Reads the postings written before it (a reversal reads the payment's): what its batch
    # planned so far is written first.
    reads_postings: bool = False


RULES: Final[dict[str, Rule]] = {
    "payment.succeeded": Rule(lambda d: f"payment:{d['payment_id']}", _payment_succeeded, False),
    "payment.failed": Rule(
        lambda d: f"payment_reversal:{d['payment_id']}", _payment_failed, reads_postings=True
    ),
    "refund.succeeded": Rule(lambda d: f"refund:{d['refund_id']}", _refund_succeeded),
    "settlement.batch_closed": Rule(lambda d: f"settlement:{d['batch_id']}", _batch_closed),
    "settlement.batch_submitted": Rule(
        lambda d: f"settlement:{d['batch_id']}:{d['attempt']}", _batch_submitted
    ),
    "settlement.batch_paid": Rule(
        lambda d: postings.payout_outcome_key(d["batch_id"], d["attempt"]),
        _payout_outcome(postings.batch_paid),
    ),
    "settlement.batch_failed": Rule(
        lambda d: postings.payout_outcome_key(d["batch_id"], d["attempt"]),
        _payout_outcome(postings.batch_failed),
    ),
}


@dataclass(frozen=True)
class _Planned:
    """A posting ready to write: its record, its source and its news, all built."""

    record: Record
    source: Source
    news: Envelope | None


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
    if given.repository.is_posted(envelope.id, rule.business_key(envelope.data)):
        log.info("ledger_already_posted", event_id=envelope.id, event_type=envelope.type)
        return None
    planned = _plan(envelope, rule, given, recorded_at)
    if planned is None:
        return None
    return _write(given.repository, [planned])[0]


Ruled = tuple[Envelope, Rule]


def post_events(
    envelopes: Sequence[Envelope], repository: LedgerRepository, fees: FeePolicy
) -> list[Recorded]:
    """Post a stream of events in order, as one set (see the module's docstring).

    Raises CannotPost naming the first event that cannot be posted; the caller rolls back.
    """
    recorded: list[Recorded] = []
    claimed: set[str] = set()  # business keys given a posting by this batch so far
    for segment in _segments(_not_posted_yet(envelopes, repository)):
        recorded.extend(_post_segment(segment, repository, fees, claimed))
    return recorded


def _post_segment(
    segment: Sequence[Ruled], repository: LedgerRepository, fees: FeePolicy, claimed: set[str]
) -> list[Recorded]:
    """Plan what decides on nothing first, then the decisions in stream order; write it all.

    The first decision takes the chain lock (held to commit), so the costly part of planning
    (building and validating the news) is done for the many before it is taken. An event
    whose fact an earlier one of the batch posted is skipped, as it would be one at a time; an
    earlier one that posted nothing (a plain decline) claims nothing.
    """
    planned: list[_Planned | None] = [
        None if rule.decides else _plan(envelope, rule, PostingInput(repository, fees), None)
        for envelope, rule in segment
    ]
    holdings = Holdings(repository)
    for position, (envelope, rule) in enumerate(segment):
        key = rule.business_key(envelope.data)
        if key in claimed:
            planned[position] = None
            log.info("ledger_already_posted", event_id=envelope.id, event_type=envelope.type)
            continue
        if rule.decides:
            given = PostingInput(repository, fees, holdings=holdings)
            planned[position] = _plan(envelope, rule, given, None)
        item = planned[position]
        if item is not None:
            claimed.add(key)
            holdings.plan(item.record.posting)
    return _write(repository, [item for item in planned if item is not None])


def _segments(stream: Sequence[Ruled]) -> list[list[Ruled]]:
    """The stream cut before every rule that reads what was posted before it."""
    segments: list[list[Ruled]] = [[]]
    for envelope, rule in stream:
        if rule.reads_postings and segments[-1]:
            segments.append([])
        segments[-1].append((envelope, rule))
    return [segment for segment in segments if segment]


def _not_posted_yet(envelopes: Sequence[Envelope], repository: LedgerRepository) -> list[Ruled]:
    """The events with a rule, less those the ledger posted before (by id or by fact), and
    less an event seen twice in the batch.

    Found before any is planned, so a repeated refund never counts in a later one's decision;
    repeats of a fact within the batch are left to the planning (``_post_segment``).
    """
    ruled = [(envelope, RULES[envelope.type]) for envelope in envelopes if envelope.type in RULES]
    if not ruled:
        return []
    keys = [rule.business_key(envelope.data) for envelope, rule in ruled]
    posted = repository.posted_among([envelope.id for envelope, _ in ruled], keys)
    seen_ids: set[str] = set()
    fresh: list[Ruled] = []
    for (envelope, rule), key in zip(ruled, keys, strict=True):
        if envelope.id in posted or key in posted or envelope.id in seen_ids:
            log.info("ledger_already_posted", event_id=envelope.id, event_type=envelope.type)
            continue
        seen_ids.add(envelope.id)
        fresh.append((envelope, rule))
    return fresh


def _plan(
    envelope: Envelope, rule: Rule, given: PostingInput, recorded_at: datetime | None
) -> _Planned | None:
    try:
        posting = rule.build(envelope.data, given)
    except (InvalidPosting, UnknownAccount) as error:
        raise CannotPost(f"{envelope.type} {envelope.id}: {error}") from error
    if posting is None:
        return None
    transaction_id = transaction_id_for(envelope.id)
    body = encode(envelope)[0].decode()
    return _Planned(
        Record(transaction_id, envelope.id, posting, envelope.occurred_at, recorded_at),
        Source(envelope.id, transaction_id, envelope.type, body, given.context),
        None
        if given.replaying
        else announcement(transaction_id, posting, envelope.occurred_at, envelope),
    )


def _write(repository: LedgerRepository, planned: Sequence[_Planned]) -> list[Recorded]:
    """Write the planned transactions, their sources and their news: one round trip."""
    if not planned:
        return []
    with repository.conn.pipeline():  # the writes need no answers
        repository.record_all([item.record for item in planned])
        repository.keep_sources([item.source for item in planned])
        enqueue_many(
            repository.conn,
            [(item.news, LEDGER_EVENTS.name, item.news.subject) for item in planned if item.news],
        )
    return [Recorded(item.record.transaction_id, item.record.posting) for item in planned]


def announce(
    repository: LedgerRepository,
    transaction_id: str,
    posting: Posting,
    effective_at: datetime,
    *,
    cause: Envelope | None,
) -> None:
    """``ledger.transaction_posted`` through the outbox, for a transaction of a merchant."""
    event = announcement(transaction_id, posting, effective_at, cause)
    if event is not None:
        enqueue_many(repository.conn, [(event, LEDGER_EVENTS.name, event.subject)])


def announcement(
    transaction_id: str, posting: Posting, effective_at: datetime, cause: Envelope | None
) -> Envelope | None:
    """The ``ledger.transaction_posted`` event of a merchant's transaction (None for others)."""
    if posting.merchant_id is None:
        return None
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
    return new_event(
        POSTED_EVENT, data, source=SOURCE, subject=posting.merchant_id, causation=cause
    )

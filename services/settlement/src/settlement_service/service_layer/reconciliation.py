"""Reconciliation of a period, three ways: what finance runs every morning.

(a) settlement items against the ledger's payment, refund and payment_reversal postings, by
    ledger transaction: the ledger's amounts are derived from its entries by the itemizer's own
    rule;
(b) the platform's captures and refunds against the PSP's daily settlement reports, by payment
    and refund id. A payment the PSP's record says failed is no capture in its report, so a
    payment item with a reversal item (whenever the reversal was posted) is no capture here
    either: the pair is left out, and so is the fee it returned;
(c) payout attempts (and their batches) against the bank's payouts, by batch and attempt.

The two sides of (b) and (c) time the same money a little differently (the PSP settles a
capture after the platform posted it; the bank receives a payout after settlement asked), so a
record near the period's edge is looked for on the other side outside the period too before
it is called missing. Each source is read in its own short call; no database transaction is
open while an outside source is asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from settlement_service.domain.items import LEDGER_KIND_OF_ITEM, item_from_posting
from settlement_service.domain.payouts import BankPayout, PayoutStatus
from settlement_service.domain.reconciliation import Check, Period, Record, Report, compare
from settlement_service.service_layer.reconciliation_ports import (
    BankStatement,
    LedgerPostings,
    PlatformPayout,
    PlatformRecords,
    PspReportLine,
    PspSettlementReports,
)

LEDGER_KINDS: Final = tuple(LEDGER_KIND_OF_ITEM.values())
RECORD_TYPE_OF_KIND: Final = {"payment": "capture", "refund": "refund"}
PspKey = tuple[str, str, str | None]  # record type, payment id, refund id


def reconcile(
    period: Period,
    platform: PlatformRecords,
    ledger: LedgerPostings,
    psp: PspSettlementReports,
    bank: BankStatement,
) -> Report:
    items = platform.items_effective(period.start, period.end)
    return Report(
        period,
        [
            items_against_ledger(period, items, ledger),
            captures_against_psp(period, items, platform, psp),
            payouts_against_bank(period, platform, bank),
        ],
    )


def items_against_ledger(
    period: Period, items: list[dict[str, Any]], ledger: LedgerPostings
) -> Check:
    settlement = {item["ledger_transaction_id"]: _item_record(item) for item in items}
    postings = {
        transaction["id"]: _posting_record(transaction)
        for transaction in ledger.transactions(period.start, period.end, LEDGER_KINDS)
    }
    return compare("settlement_vs_ledger", ("settlement", "ledger"), settlement, postings)


def captures_against_psp(
    period: Period,
    items: list[dict[str, Any]],
    platform: PlatformRecords,
    psp: PspSettlementReports,
) -> Check:
    reported: dict[PspKey, PspReportLine] = {}
    for day in period.days(margin=1):
        for line in psp.settlement_report(day):
            reported[(line.record_type, line.payment_id, line.refund_id)] = line
    captured = {item["payment_id"] for item in items if item["kind"] == "payment"}
    reversed_ = _reversed_payments(
        items + (platform.items_of_payments(captured) if captured else [])
    )
    ours = {_psp_key(item): item for item in _settled_at_psp(items, reversed_)}
    theirs = {key: line for key, line in reported.items() if period.contains(line.occurred_at)}
    for key in ours.keys() - theirs.keys():
        if key in reported:  # settled at the PSP just outside the period
            theirs[key] = reported[key]
    unknown = {payment_id for _, payment_id, _ in theirs.keys() - ours.keys()}
    nearby = platform.items_of_payments(unknown) if unknown else []
    for item in _settled_at_psp(nearby, _reversed_payments(nearby)):
        if _psp_key(item) in theirs:  # posted here just outside the period
            ours.setdefault(_psp_key(item), item)
    platform_fees: dict[str, int] = {}
    for item in ours.values():
        platform_fees[item["currency"]] = platform_fees.get(item["currency"], 0) + int(
            item["fee_amount"]
        )
    psp_fees: dict[str, int] = {}
    for line in theirs.values():
        psp_fees[line.currency] = psp_fees.get(line.currency, 0) + line.psp_fee
    return compare(
        "platform_vs_psp",
        ("platform", "psp"),
        {key: _captured_record(item) for key, item in ours.items()},
        {key: _reported_record(line) for key, line in theirs.items()},
        extra_totals={"platform_fees": platform_fees, "psp_fees": psp_fees},
    )


def payouts_against_bank(period: Period, platform: PlatformRecords, bank: BankStatement) -> Check:
    """Whole batches: every attempt of a batch with an attempt in the period, or at the bank."""
    requested = platform.payouts_requested(period.start, period.end)
    received: dict[str, BankPayout] = {}
    for day in period.days():
        received.update((payout.id, payout) for payout in bank.payouts_on(day))
    batch_ids = {p.batch_id for p in requested} | {p.batch_id for p in received.values()}
    attempts = platform.payouts_of_batches(batch_ids) if batch_ids else []
    seen = {(p.batch_id, p.attempt) for p in received.values()}
    for batch_id in sorted({p.batch_id for p in attempts if (p.batch_id, p.attempt) not in seen}):
        received.update((payout.id, payout) for payout in bank.find_payouts(batch_id))
    return compare(
        "batches_vs_bank",
        ("settlement", "bank"),
        {(p.batch_id, p.attempt): _payout_record(p) for p in attempts},
        {(p.batch_id, p.attempt): _bank_record(p) for p in received.values()},
    )


def _item_record(item: dict[str, Any]) -> Record:
    return Record(
        ids={
            "ledger_transaction_id": item["ledger_transaction_id"],
            "item_id": item["id"],
            "kind": item["kind"],
            "payment_id": item["payment_id"],
            "refund_id": item["refund_id"],
        },
        currency=item["currency"],
        amounts={
            "gross": int(item["gross_amount"]),
            "fee": int(item["fee_amount"]),
            "net": int(item["net_amount"]),
        },
    )


def _posting_record(transaction: dict[str, Any]) -> Record:
    """Amounts as the itemizer would derive them from these entries, so they compare like."""
    ids = {
        "ledger_transaction_id": transaction["id"],
        "kind": transaction["kind"],
        "payment_id": transaction.get("payment_id"),
        "refund_id": transaction.get("refund_id"),
    }
    try:
        item = item_from_posting(
            {**transaction, "transaction_id": transaction["id"]},
            event_id="",
            occurred_at=datetime.fromisoformat(str(transaction["effective_at"])),
        )
    except ValueError:  # moves nothing through clearing: no item can stand for it
        item = None
    if item is None:
        return Record(ids, transaction["currency"], {"gross": 0, "fee": 0, "net": 0})
    amounts = {"gross": item.gross_amount, "fee": item.fee_amount, "net": item.net_amount}
    return Record(ids, item.currency, amounts)


def _reversed_payments(items: list[dict[str, Any]]) -> set[str]:
    return {item["payment_id"] for item in items if item["kind"] == "reversal"}


def _settled_at_psp(items: list[dict[str, Any]], reversed_: set[str]) -> list[dict[str, Any]]:
    """The items the PSP's report has a line for: not a reversal, nor the payment it undid."""
    return [
        item
        for item in items
        if item["kind"] in RECORD_TYPE_OF_KIND
        and not (item["kind"] == "payment" and item["payment_id"] in reversed_)
    ]


def _psp_key(item: dict[str, Any]) -> PspKey:
    return (RECORD_TYPE_OF_KIND[item["kind"]], item["payment_id"], item["refund_id"])


def _captured_record(item: dict[str, Any]) -> Record:
    return Record(
        ids={
            "record_type": RECORD_TYPE_OF_KIND[item["kind"]],
            "payment_id": item["payment_id"],
            "refund_id": item["refund_id"],
            "item_id": item["id"],
        },
        currency=item["currency"],
        amounts={"amount": int(item["gross_amount"])},
        details={"effective_at": item["effective_at"]},
    )


def _reported_record(line: PspReportLine) -> Record:
    return Record(
        ids={
            "record_type": line.record_type,
            "payment_id": line.payment_id,
            "refund_id": line.refund_id,
        },
        currency=line.currency,
        amounts={"amount": line.amount},
        details={"psp_fee": line.psp_fee, "occurred_at": line.occurred_at},
    )


def _final(status: str) -> str | None:
    return status if PayoutStatus(status).final else None


def _payout_record(payout: PlatformPayout) -> Record:
    return Record(
        ids={
            "batch_id": payout.batch_id,
            "attempt": payout.attempt,
            "bank_payout_id": payout.bank_payout_id,
            "merchant_id": payout.merchant_id,
        },
        currency=payout.currency,
        amounts={"amount": payout.amount},
        status=_final(payout.status),
        details={
            "payout_status": payout.status,
            "batch_status": payout.batch_status,
            "batch_net_amount": payout.batch_net_amount,
        },
    )


def _bank_record(payout: BankPayout) -> Record:
    return Record(
        ids={"batch_id": payout.batch_id, "attempt": payout.attempt, "bank_payout_id": payout.id},
        currency=payout.currency,
        amounts={"amount": payout.amount},
        status=_final(payout.status.value),
        details={"payout_status": payout.status.value},
    )

"""A payment the PSP's record overturned: its reversal takes the payment back from the payout."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from settlement_service.domain.batches import CarryReason, Totals, carry_reason
from settlement_service.domain.items import item_from_posting
from settlement_service.domain.reconciliation import Period
from settlement_service.service_layer.reconciliation import captures_against_psp
from settlement_service.service_layer.reconciliation_ports import PlatformPayout, PspReportLine
from settlement_service.service_layer.reports import totals_of

MARCH = datetime(2026, 3, 1, 10, tzinfo=UTC)


def _reversal_posting(merchant: str, amount: int, fee: int, owed: int) -> dict[str, Any]:
    """As the ledger posts it: escrow as far as it held, receivable for the rest."""
    return {
        "transaction_id": "ltx_reversal_1",
        "kind": "payment_reversal",
        "merchant_id": merchant,
        "currency": "EUR",
        "payment_id": "PAY_1",
        "entries": [
            {
                "account": f"merchant:{merchant}:escrow",
                "direction": "debit",
                "amount": amount - fee - owed,
            },
            {"account": f"merchant:{merchant}:receivable", "direction": "debit", "amount": owed},
            {"account": "platform:fees", "direction": "debit", "amount": fee},
            {"account": "psp_clearing", "direction": "credit", "amount": amount},
        ],
    }


def test_a_reversal_posting_is_an_item_taking_back_the_payment_less_its_returned_fee() -> None:
    item = item_from_posting(
        _reversal_posting("MER_1", 10_000, 165, owed=4_000), event_id="evt_1", occurred_at=MARCH
    )

    assert item is not None
    assert (item.kind, item.gross_amount, item.fee_amount, item.net_amount) == (
        "reversal",
        10_000,
        165,
        -9_835,
    )
    assert (item.payment_id, item.ledger_transaction_id) == ("PAY_1", "ltx_reversal_1")


def test_the_same_reversal_posting_always_names_the_same_item() -> None:
    posting = _reversal_posting("MER_1", 10_000, 165, owed=0)

    first = item_from_posting(posting, event_id="evt_1", occurred_at=MARCH)
    again = item_from_posting(posting, event_id="evt_2", occurred_at=MARCH)

    assert first is not None and again is not None and first.id == again.id


def test_a_payment_and_its_reversal_net_to_nothing_and_are_not_paid() -> None:
    totals = Totals(2, 10_000, 0, 165, MARCH, reversed_amount=10_000, fee_returned_amount=165)

    assert totals.net_amount == 0
    assert carry_reason(totals, minimum_payout=1) is CarryReason.NOT_POSITIVE


def test_a_reversal_makes_the_net_smaller_by_the_payment_less_its_fee() -> None:
    without = Totals(1, 30_000, 0, 445, MARCH)
    with_reversal = Totals(
        2, 30_000, 0, 445, MARCH, reversed_amount=10_000, fee_returned_amount=165
    )

    assert without.net_amount - with_reversal.net_amount == 10_000 - 165


def test_a_reports_totals_show_reversals_apart_and_net_as_the_items_do() -> None:
    items = [
        {"kind": "payment", "gross_amount": 30_000, "fee_amount": 445, "net_amount": 29_555},
        {"kind": "refund", "gross_amount": 1_000, "fee_amount": 0, "net_amount": -1_000},
        {"kind": "reversal", "gross_amount": 10_000, "fee_amount": 165, "net_amount": -9_835},
    ]

    assert totals_of(items).as_json() == {
        "gross_amount": 30_000,
        "refunded_amount": 1_000,
        "fee_amount": 445,
        "reversed_amount": 10_000,
        "fee_returned_amount": 165,
        "net_amount": 30_000 - 1_000 - 445 - 10_000 + 165,
        "item_count": 3,
    }


class _Platform:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def items_of_payments(self, payment_ids: Iterable[str]) -> list[dict[str, Any]]:
        return [item for item in self.items if item["payment_id"] in set(payment_ids)]

    def items_effective(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        raise NotImplementedError

    def payouts_requested(self, start: datetime, end: datetime) -> list[PlatformPayout]:
        raise NotImplementedError

    def payouts_of_batches(self, batch_ids: Iterable[str]) -> list[PlatformPayout]:
        raise NotImplementedError


class _Psp:
    def __init__(self, lines: list[PspReportLine]) -> None:
        self.lines = lines

    def settlement_report(self, day: date) -> list[PspReportLine]:
        return [line for line in self.lines if line.occurred_at.date() == day]


def _item(kind: str, payment_id: str, amount: int, fee: int, at: datetime) -> dict[str, Any]:
    net = {"payment": amount - fee, "reversal": fee - amount}[kind]
    return {
        "id": f"sit_{kind}_{payment_id}",
        "kind": kind,
        "payment_id": payment_id,
        "refund_id": None,
        "currency": "EUR",
        "gross_amount": amount,
        "fee_amount": fee,
        "net_amount": net,
        "effective_at": at,
    }


def test_a_payment_the_psp_says_failed_is_no_capture_on_either_side() -> None:
    kept = _item("payment", "PAY_kept", 5_000, 95, MARCH)
    overturned = _item("payment", "PAY_gone", 10_000, 165, MARCH)
    reversal = _item("reversal", "PAY_gone", 10_000, 165, MARCH + timedelta(hours=1))
    psp = _Psp([PspReportLine("capture", "PAY_kept", None, 5_000, "EUR", 0, MARCH)])
    day = Period(MARCH.replace(hour=0), MARCH.replace(hour=0) + timedelta(days=1))

    check = captures_against_psp(day, [kept, overturned, reversal], _Platform([]), psp)

    assert [(line.result, line.ids["payment_id"]) for line in check.lines] == [
        ("matched", "PAY_kept")
    ]
    assert check.extra_totals["platform_fees"] == {"EUR": 95}


def test_a_payment_reversed_after_its_period_is_no_capture_in_that_period() -> None:
    overturned = _item("payment", "PAY_gone", 10_000, 165, MARCH)
    later = _item("reversal", "PAY_gone", 10_000, 165, MARCH + timedelta(days=3))
    day = Period(MARCH.replace(hour=0), MARCH.replace(hour=0) + timedelta(days=1))

    check = captures_against_psp(day, [overturned], _Platform([overturned, later]), _Psp([]))

    assert check.lines == []

"""Matching two sides' records, and the periods a reconciliation accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from settlement_service.domain.reconciliation import InvalidPeriod, Period, Record, compare
from settlement_service.entrypoints.reconcile_cli import instant, main

MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def _record(amount: int, status: str | None = None, **ids: str) -> Record:
    return Record(ids=ids, currency="EUR", amounts={"amount": amount}, status=status)


def test_each_key_is_matched_missing_on_one_side_or_mismatched() -> None:
    check = compare(
        "example",
        ("ours", "theirs"),
        {"a": _record(100, x="a"), "b": _record(200, x="b"), "c": _record(300, x="c")},
        {"a": _record(100), "b": _record(201), "d": _record(50, x="d")},
    )

    assert [(line.result, line.ids["x"]) for line in check.lines] == [
        ("matched", "a"),
        ("amount_mismatch", "b"),
        ("missing_in_theirs", "c"),
        ("missing_in_ours", "d"),
    ]
    assert check.status == "discrepancies"
    assert check.counts() == {
        "matched": 1,
        "missing_in_ours": 1,
        "missing_in_theirs": 1,
        "amount_mismatch": 1,
    }
    assert check.totals() == {"ours": {"EUR": {"amount": 600}}, "theirs": {"EUR": {"amount": 351}}}


def test_different_final_outcomes_are_a_status_mismatch_an_unfinished_one_is_not() -> None:
    check = compare(
        "payouts",
        ("settlement", "bank"),
        {"paid": _record(5, "paid"), "pending": _record(5)},
        {"paid": _record(5, "failed"), "pending": _record(5, "paid")},
    )

    assert [line.result for line in check.lines] == ["status_mismatch", "matched"]


def test_a_period_runs_forward_at_most_31_days() -> None:
    with pytest.raises(InvalidPeriod):
        Period(MARCH, MARCH)
    with pytest.raises(InvalidPeriod):
        Period(MARCH, MARCH + timedelta(days=31, seconds=1))
    with pytest.raises(InvalidPeriod):
        Period(MARCH.replace(tzinfo=None), MARCH + timedelta(days=1))
    assert list(Period(MARCH, MARCH + timedelta(days=2)).days(margin=1)) == [
        date(2026, 2, 28),
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]


def test_the_cli_takes_days_and_times_in_utc() -> None:
    assert instant("2026-03-01") == MARCH
    assert instant("2026-03-01T02:00:00+02:00") == MARCH
    assert instant("2026-03-01T00:00:00Z") == MARCH


def test_the_cli_refuses_a_backwards_period_before_it_reads_anything() -> None:
    assert main(["--from", "2026-03-02", "--to", "2026-03-01"]) == 2

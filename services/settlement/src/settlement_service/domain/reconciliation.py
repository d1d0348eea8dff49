"""Reconciliation: two sides' records of the same money, matched line by line.

Each check pairs the records of two sides by a key (a ledger transaction, a payment or refund,
a payout attempt). A pair is ``matched`` when its amounts agree, ``amount_mismatch`` when they
do not, and a record one side lacks is ``missing_in_<side>``. A payout whose outcome the two
sides record differently is a ``status_mismatch``. Automation reads the report's ``status``:
``matched`` only when every line of every check is.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar

from settlement_service.domain.errors import SettlementError

MATCHED: Final = "matched"
AMOUNT_MISMATCH: Final = "amount_mismatch"
STATUS_MISMATCH: Final = "status_mismatch"
DISCREPANCIES: Final = "discrepancies"
LONGEST_PERIOD: Final = timedelta(days=31)
Key = TypeVar("Key", bound=Hashable)


class InvalidPeriod(SettlementError):
    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, at most ``LONGEST_PERIOD`` long."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidPeriod("a period's bounds carry a time zone")
        if self.end <= self.start:
            raise InvalidPeriod("'to' must be after 'from'")
        if self.end - self.start > LONGEST_PERIOD:
            raise InvalidPeriod(f"a period is at most {LONGEST_PERIOD.days} days")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def days(self, *, margin: int = 0) -> Iterator[date]:
        """The UTC days the period touches, and ``margin`` days either side."""
        first = self.start.date() - timedelta(days=margin)
        last = (self.end - timedelta(microseconds=1)).date() + timedelta(days=margin)
        while first <= last:
            yield first
            first += timedelta(days=1)


@dataclass(frozen=True)
class Record:
    """One side's view of a line: the ids it knows, its amounts, and a final status if any."""

    ids: Mapping[str, Any]
    currency: str
    amounts: Mapping[str, int]
    status: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"currency": self.currency, **self.amounts, **self.details}
        if self.status is not None:
            shown["status"] = self.status
        return shown


@dataclass(frozen=True)
class Line:
    result: str
    ids: Mapping[str, Any]
    sides: Mapping[str, Record | None]

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "ids": dict(self.ids),
            **{side: record.as_json() if record else None for side, record in self.sides.items()},
        }


@dataclass(frozen=True)
class Check:
    name: str
    sides: tuple[str, str]
    lines: Sequence[Line]
    extra_totals: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return MATCHED if all(line.result == MATCHED for line in self.lines) else DISCREPANCIES

    def counts(self) -> dict[str, int]:
        left, right = self.sides
        results = (MATCHED, f"missing_in_{left}", f"missing_in_{right}", AMOUNT_MISMATCH)
        counted = dict.fromkeys(results, 0)
        for line in self.lines:
            counted[line.result] = counted.get(line.result, 0) + 1
        return counted

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per side and currency, the sum of every amount that side recorded."""
        summed: dict[str, dict[str, dict[str, int]]] = {side: {} for side in self.sides}
        for line in self.lines:
            for side, record in line.sides.items():
                if record is None:
                    continue
                per_currency = summed[side].setdefault(record.currency, {})
                for name, amount in record.amounts.items():
                    per_currency[name] = per_currency.get(name, 0) + amount
        return summed

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sides": list(self.sides),
            "counts": self.counts(),
            "totals": {**self.totals(), **self.extra_totals},
            "lines": [line.as_json() for line in self.lines],
        }


@dataclass(frozen=True)
class Report:
    period: Period
    checks: Sequence[Check]

    @property
    def status(self) -> str:
        return MATCHED if all(c.status == MATCHED for c in self.checks) else DISCREPANCIES

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "from": self.period.start,
            "to": self.period.end,
            "checks": {check.name: check.as_json() for check in self.checks},
        }


def compare(
    name: str,
    sides: tuple[str, str],
    left: Mapping[Key, Record],
    right: Mapping[Key, Record],
    *,
    extra_totals: Mapping[str, Any] | None = None,
) -> Check:
    """Every key either side holds, as one line; in key order, so a report reads the same twice."""
    left_name, right_name = sides
    lines = []
    for key in sorted(left.keys() | right.keys(), key=repr):
        mine, theirs = left.get(key), right.get(key)
        if mine is None or theirs is None:
            result = f"missing_in_{left_name if mine is None else right_name}"
        elif mine.currency != theirs.currency or dict(mine.amounts) != dict(theirs.amounts):
            result = AMOUNT_MISMATCH
        elif mine.status and theirs.status and mine.status != theirs.status:
            result = STATUS_MISMATCH
        else:
            result = MATCHED
        ids = _known_ids(mine, theirs)
        lines.append(Line(result, ids, {left_name: mine, right_name: theirs}))
    return Check(name, sides, lines, dict(extra_totals or {}))


def _known_ids(*records: Record | None) -> dict[str, Any]:
    """Every id either side knows; the first side's value where both know one."""
    ids: dict[str, Any] = {}
    for record in reversed(records):
        if record is not None:
            ids.update({k: v for k, v in record.ids.items() if v is not None or k not in ids})
    return ids

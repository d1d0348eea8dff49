"""What reconciliation reads, from whom: the platform's own records and three outside sources.

Each port is small so a test can stand in for one source and use the real others. The outside
sources are HTTP services (adapters/ledger_http.py, adapters/psp_reports_http.py,
adapters/bank_statement_http.py); none is called with a database transaction open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from settlement_service.domain.payouts import BankPayout


class SourceUnavailable(Exception):
    """An outside source gave no usable answer: the reconciliation cannot be trusted, so none."""


@dataclass(frozen=True)
class PspReportLine:
    """One line of the PSP's daily settlement report (a capture or a refund)."""

    record_type: str
    payment_id: str
    refund_id: str | None
    amount: int
    currency: str
    psp_fee: int
    occurred_at: datetime


@dataclass(frozen=True)
class PlatformPayout:
    """A payout attempt as settlement recorded it, with its batch's state."""

    batch_id: str
    attempt: int
    merchant_id: str
    currency: str
    amount: int
    status: str
    bank_payout_id: str | None
    batch_status: str
    batch_net_amount: int


class LedgerPostings(Protocol):
    def transactions(self, start: datetime, end: datetime, kinds: Sequence[str]) -> list[Any]:
        """Sealed transactions of these kinds effective in [start, end), with their entries."""


class PspSettlementReports(Protocol):
    def settlement_report(self, day: date) -> list[PspReportLine]:
        """The PSP's report of one UTC day."""


class BankStatement(Protocol):
    def payouts_on(self, day: date) -> list[BankPayout]:
        """Every payout the bank received that UTC day."""

    def find_payouts(self, batch_id: str) -> list[BankPayout]:
        """Every payout the bank holds for a batch, whenever received."""


class PlatformRecords(Protocol):
    def items_effective(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Settlement items effective in [start, end)."""

    def items_of_payments(self, payment_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Every item of these payments (their captures and refunds), whenever effective."""

    def payouts_requested(self, start: datetime, end: datetime) -> list[PlatformPayout]:
        """Payout attempts requested in [start, end)."""

    def payouts_of_batches(self, batch_ids: Iterable[str]) -> list[PlatformPayout]:
        """Every attempt of these batches, whenever requested."""

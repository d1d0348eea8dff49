"""The bank's payouts of a day (``GET /payouts?date=``), beside the payouts client's own calls."""

from __future__ import annotations

from datetime import date

from settlement_service.adapters.bank_http import HttpBank, payout_from
from settlement_service.domain.payouts import BankPayout
from settlement_service.service_layer.bank import BankError
from settlement_service.service_layer.reconciliation_ports import SourceUnavailable


class HttpBankStatement(HttpBank):
    """The payouts client's retries; a statement still unread fails the reconciliation."""

    def payouts_on(self, day: date) -> list[BankPayout]:
        try:
            found = self._call("GET", "/payouts", params={"date": day.isoformat()})
        except BankError as error:
            raise SourceUnavailable(f"bank statement of {day}: {error}") from error
        return [payout_from(item) for item in found.get("data", [])]

    def find_payouts(self, batch_id: str) -> list[BankPayout]:
        try:
            return super().find_payouts(batch_id)
        except BankError as error:
            raise SourceUnavailable(f"bank payouts of {batch_id}: {error}") from error

"""The payment service provider as the handlers see it; adapters/psp.py talks HTTP to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from payment_service.domain.payment import Payment
from payment_service.domain.refund import Refund


@dataclass(frozen=True)
class ChargeResult:
    charge_id: str
    status: str  # processing | succeeded | failed
    failure_code: str | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # processing | succeeded | failed
    failure_code: str | None = None


class ProviderUnavailable(Exception):
    """The PSP did not answer usefully (timeout, 5xx): try again later."""


class ProviderRejected(Exception):
    """The PSP refused the request for good (4xx); retrying the same request cannot help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentProvider(Protocol):
    def charge(self, payment: Payment) -> ChargeResult: ...
    def get_charge(self, charge_id: str) -> ChargeResult: ...
    def refund(self, refund: Refund, charge_id: str) -> RefundResult: ...

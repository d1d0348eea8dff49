"""The payment service provider as the use cases see it; adapters/psp.py talks HTTP to it.

Every creating call carries the platform's id as its idempotency key, so repeating one (a retry
tier, the janitor, a duplicate delivery) can never charge or refund twice.
"""

from __future__ import annotations

from typing import Protocol

from payment_service.domain.payment import Payment
from payment_service.domain.psp import ChargeRecord, RefundRecord
from payment_service.domain.refund import Refund


class ProviderError(Exception):
    """The PSP gave no usable answer; retrying later may help."""


class ProviderUnavailable(ProviderError):
    """Timeout, refused connection, 5xx, 408/409/429: try again later."""


class ProviderMisconfigured(ProviderError):
    """A 4xx that is not the PSP's decline: a wrong URL or credentials, or a request we built
    wrong. Retried (a fixed configuration heals it) and alerted on, never taken as a decline."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"PSP answered {status} {code}: {message}")
        self.status = status
        self.code = code


class ProviderDeclined(Exception):
    """The PSP explicitly refused this charge or refund; repeating it cannot help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentProvider(Protocol):
    def charge(self, payment: Payment) -> ChargeRecord:
        """Create the charge, or replay the one made under the payment's id."""

    def find_charge(self, payment: Payment) -> ChargeRecord | None:
        """The PSP's record of the payment's charge (by its id, else by the payment's
        reference); None when the PSP has none."""

    def refund(self, refund: Refund, charge_id: str) -> RefundRecord:
        """Create the refund, or replay the one made under the refund's id."""

    def get_refund(self, psp_refund_id: str) -> RefundRecord: ...

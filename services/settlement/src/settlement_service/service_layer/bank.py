"""The bank as the use cases see it; adapters/bank_http.py talks HTTP to it.

Every payout request carries ``<batch_id>:<attempt>`` as its idempotency key, so repeating one
(after a crash, from the janitor) can never pay a batch twice.
"""

from __future__ import annotations

from typing import Protocol

from settlement_service.domain.payouts import BankPayout, PayoutRequest


class BankError(Exception):
    """The bank gave no usable answer; retrying later may help, nothing was recorded there."""


class BankUnavailable(BankError):
    """Timeout, refused connection, 5xx (``bank_unavailable``), 429: try again later."""


class BankMisconfigured(BankError):
    """A 4xx we did not expect (wrong URL, a key reused with another body): alert, retry later."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"bank answered {status} {code}: {message}")
        self.status = status
        self.code = code


class PayoutUnknownToBank(BankMisconfigured):
    """The bank holds no payout of that id: whatever named it is not the bank's word."""


class Bank(Protocol):
    def request_payout(self, request: PayoutRequest) -> BankPayout:
        """Create the payout, or replay the one made under the request's key."""

    def get_payout(self, payout_id: str) -> BankPayout:
        """The bank's record of one payout."""

    def find_payouts(self, batch_id: str) -> list[BankPayout]:
        """Every payout the bank holds for a batch (one per attempt it received)."""

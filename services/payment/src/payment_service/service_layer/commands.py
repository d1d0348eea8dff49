"""Orders the service carries out, built by the entrypoints from validated input."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CreatePayment:
    merchant_id: str
    amount: int
    currency: str
    payment_method: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    correlation_id: str | None = None


@dataclass(frozen=True)
class RequestRefund:
    merchant_id: str
    payment_id: str
    amount: int | None  # None: everything left to refund
    reason: str | None = None
    correlation_id: str | None = None

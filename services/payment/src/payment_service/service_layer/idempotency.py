"""Run a creating request at most once per (merchant, Idempotency-Key).

The key row, the work and the stored response commit in one transaction, so a crash leaves
either nothing (the retry runs afresh) or everything (the retry gets the stored response).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from payment_service.domain.errors import DomainError
from payment_service.domain.idempotency import RequestFingerprint, StoredResponse
from payment_service.service_layer.unit_of_work import RequestInFlight, Transactions, UnitOfWork


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class IdempotencyRequestInFlight(DomainError):
    code = "idempotency_request_in_flight"


@dataclass(frozen=True)
class IdempotentResult:
    response: StoredResponse
    replayed: bool


def run_once(
    transactions: Transactions,
    *,
    merchant_id: str,
    key: str,
    request: RequestFingerprint,
    action: Callable[[UnitOfWork], dict[str, Any]],
    status: int = 201,
) -> IdempotentResult:
    """``action`` does the work in the key's transaction and returns the response body."""
    with transactions() as uow:
        try:
            existing = uow.idempotency.claim(merchant_id, key, request.value)
        except RequestInFlight as busy:
            raise IdempotencyRequestInFlight(
                "a request with this Idempotency-Key is still being processed"
            ) from busy
        if existing is not None:
            if not request.matches(existing.fingerprint):
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
            if existing.response is None:
                raise IdempotencyRequestInFlight(
                    "a request with this Idempotency-Key is still being processed"
                )
            return IdempotentResult(existing.response, replayed=True)
        response = StoredResponse(status, action(uow))
        uow.idempotency.complete(merchant_id, key, response)
    return IdempotentResult(response, replayed=False)

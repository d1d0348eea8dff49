"""HTTP client of the payment service provider.

Every call carries an idempotency key (the payment or refund id), so retrying one, here or from
a retry tier, can never charge twice. Timeouts are short and transient failures are retried a
couple of times in place; what still fails is ProviderUnavailable for the retry tiers.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import structlog

from payment_service.domain.payment import Payment
from payment_service.domain.refund import Refund
from payment_service.service_layer.provider import (
    ChargeResult,
    ProviderRejected,
    ProviderUnavailable,
    RefundResult,
)

log = structlog.get_logger(__name__)


class HttpPaymentProvider:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 10.0,
        attempts: int = 2,
        backoff_seconds: float = 0.2,
        client: httpx.Client | None = None,
    ) -> None:
        timeout = httpx.Timeout(timeout_seconds, connect=min(2.0, timeout_seconds))
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout)
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds

    def close(self) -> None:
        self.client.close()

    def _call(
        self, method: str, path: str, *, key: str | None = None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as error:
                last = error
            else:
                if response.status_code < 300:
                    payload: dict[str, Any] = response.json()
                    return payload
                if response.status_code < 500 and response.status_code not in (408, 409, 429):
                    problem = _problem(response)
                    raise ProviderRejected(
                        problem.get("code", "psp_rejected"),
                        problem.get("detail") or response.text[:200],
                    )
                last = ProviderUnavailable(f"PSP answered {response.status_code} to {path}")
            log.warning("psp_call_failed", path=path, attempt=attempt, error=str(last))
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * attempt)
        raise ProviderUnavailable(f"PSP unavailable for {method} {path}: {last}") from last

    def charge(self, payment: Payment) -> ChargeResult:
        body = {
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_method": payment.payment_method,
            "reference": payment.id,
        }
        return _charge(self._call("POST", "/charges", key=payment.id, body=body))

    def get_charge(self, charge_id: str) -> ChargeResult:
        return _charge(self._call("GET", f"/charges/{charge_id}"))

    def refund(self, refund: Refund, charge_id: str) -> RefundResult:
        body = {"charge_id": charge_id, "amount": refund.amount, "reference": refund.id}
        data = self._call("POST", "/refunds", key=refund.id, body=body)
        return RefundResult(str(data["id"]), str(data["status"]), data.get("failure_code"))


def _charge(data: dict[str, Any]) -> ChargeResult:
    return ChargeResult(str(data["id"]), str(data["status"]), data.get("failure_code"))


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

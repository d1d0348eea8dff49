"""HTTP client of the payment service provider.

Every creating call carries an idempotency key (the payment or refund id), so repeating one,
here, from a retry tier or from the janitor, can never charge or refund twice.

What an answer means:

- 2xx: the PSP's record of the charge or refund.
- 422 with a decline code (``DECLINES``): the PSP refused this charge or refund for good.
- 408, 409, 429, 5xx, a refused connection: unavailable for now; a refused connection or a 5xx
  is tried once more in place. A timeout is not: the call may still be running at the PSP, and
  the next attempt (a retry tier, the janitor) replays it under the same key; one slow call costs
  at most the timeout.
- any other 4xx (a wrong ``PSP_URL`` path, rejected credentials, a request we built wrong):
  ``ProviderMisconfigured``, logged as an error and counted, so it alerts; it is retried like an
  outage and never taken as a decline.

One provider serves the charger's concurrent handlers: ``httpx.Client`` is safe to share between
threads, and it keeps up to ``MAX_CONCURRENT_CALLS`` connections open, so that many calls at
once each have their own without waiting for one or opening a new one per call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

import httpx
import structlog
from prometheus_client import Counter

from payment_service.domain.payment import Payment
from payment_service.domain.psp import ChargeRecord, PspStatus, RefundRecord
from payment_service.domain.refund import Refund
from payment_service.service_layer.provider import (
    ProviderDeclined,
    ProviderMisconfigured,
    ProviderUnavailable,
)

log = structlog.get_logger(__name__)

# The PSP's explicit refusals (see the simulator's README); nothing else declines.
DECLINES: Final[Mapping[str, frozenset[str]]] = {
    "charge": frozenset({"unknown_payment_method"}),
    "refund": frozenset({"unknown_charge", "charge_not_refundable", "refund_exceeds_charge"}),
}
_TRANSIENT_4XX: Final = frozenset({408, 409, 429})
# Calls in flight at once, each on a kept-alive connection of its own (the charger's handlers).
MAX_CONCURRENT_CALLS: Final = 32

MISCONFIGURED = Counter(
    "payment_psp_configuration_errors_total",
    "PSP answers that are neither a result nor a decline (4xx): a configuration or request bug.",
    ["operation", "status"],
)


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
        limits = httpx.Limits(
            max_connections=MAX_CONCURRENT_CALLS, max_keepalive_connections=MAX_CONCURRENT_CALLS
        )
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout, limits=limits)
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds

    def close(self) -> None:
        self.client.close()

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(
                    method, path, json=body, headers=headers, params=params
                )
            except httpx.TimeoutException as error:
                raise ProviderUnavailable(f"PSP timed out on {method} {path}: {error}") from error
            except httpx.HTTPError as error:
                last = error
            else:
                if response.status_code < 300:
                    payload: dict[str, Any] = response.json()
                    return payload
                if response.status_code < 500 and response.status_code not in _TRANSIENT_4XX:
                    raise self._refusal(operation, method, path, response)
                last = ProviderUnavailable(f"PSP answered {response.status_code} to {path}")
                if response.status_code < 500:
                    break  # the PSP asked us to come back later, not now
            log.warning("psp_call_failed", path=path, attempt=attempt, error=str(last))
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * attempt)
        raise ProviderUnavailable(f"PSP unavailable for {method} {path}: {last}") from last

    def _refusal(
        self, operation: str, method: str, path: str, response: httpx.Response
    ) -> Exception:
        problem = _problem(response)
        code = str(problem.get("code") or "unexplained")
        detail = str(problem.get("detail") or response.text[:200])
        if response.status_code == 422 and code in DECLINES.get(operation, frozenset()):
            return ProviderDeclined(code, detail)
        MISCONFIGURED.labels(operation, str(response.status_code)).inc()
        log.error(
            "psp_configuration_error",
            operation=operation,
            method=method,
            path=path,
            status=response.status_code,
            code=code,
            detail=detail,
        )
        return ProviderMisconfigured(response.status_code, code, detail)

    def charge(self, payment: Payment) -> ChargeRecord:
        body = {
            "amount": payment.amount,
            "currency": payment.currency,
            "payment_method": payment.payment_method,
            "reference": payment.id,
        }
        return _charge(self._call("charge", "POST", "/charges", key=payment.id, body=body))

    def find_charge(self, payment: Payment) -> ChargeRecord | None:
        if payment.psp_reference:
            return _charge(self._call("lookup", "GET", f"/charges/{payment.psp_reference}"))
        found = self._call("lookup", "GET", "/charges", params={"reference": payment.id})
        charges = [_charge(item) for item in found.get("data", [])]
        return charges[0] if charges else None

    def refund(self, refund: Refund, charge_id: str) -> RefundRecord:
        body = {"charge_id": charge_id, "amount": refund.amount, "reference": refund.id}
        return _refund(self._call("refund", "POST", "/refunds", key=refund.id, body=body))

    def get_refund(self, psp_refund_id: str) -> RefundRecord:
        return _refund(self._call("lookup", "GET", f"/refunds/{psp_refund_id}"))


def _charge(data: dict[str, Any]) -> ChargeRecord:
    return ChargeRecord(
        id=str(data["id"]),
        reference=str(data["reference"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]),
        status=PspStatus(data["status"]),
        failure_code=data.get("failure_code"),
    )


def _refund(data: dict[str, Any]) -> RefundRecord:
    return RefundRecord(
        id=str(data["id"]),
        charge_id=str(data["charge_id"]),
        reference=str(data["reference"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]),
        status=PspStatus(data["status"]),
        failure_code=data.get("failure_code"),
    )


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

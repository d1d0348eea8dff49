"""HTTP client of the bank's payouts API (the simulator's ``/payouts``).

What an answer means:

- 2xx: the bank's record of the payout.
- 503 (``bank_unavailable``), other 5xx, 408, 429, a refused connection, a timeout: unavailable
  for now, nothing recorded at the bank; a refused connection or a 5xx is tried once more in
  place. The janitor repeats the request later under the same key.
- 404 ``payout_not_found`` on a look-up: ``PayoutUnknownToBank`` (a report naming a payout the
  bank never made).
- 409 (the key was used with another body) and any other 4xx: ``BankMisconfigured``, logged as
  an error: a bug on our side or a wrong ``SETTLEMENT_BANK_URL``, never taken as an outcome.
"""

from __future__ import annotations

import time
from typing import Any, Final

import httpx
import structlog

from settlement_service.domain.payouts import BankPayout, PayoutRequest, PayoutStatus
from settlement_service.service_layer.bank import (
    BankMisconfigured,
    BankUnavailable,
    PayoutUnknownToBank,
)

log = structlog.get_logger(__name__)

_TRANSIENT_4XX: Final = frozenset({408, 429})


class HttpBank:
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
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(
                    method, path, json=body, headers=headers, params=params
                )
            except httpx.TimeoutException as error:
                raise BankUnavailable(f"bank timed out on {method} {path}: {error}") from error
            except httpx.HTTPError as error:
                last = error
            else:
                if response.status_code < 300:
                    return response.json()
                if response.status_code < 500 and response.status_code not in _TRANSIENT_4XX:
                    raise _refusal(method, path, response)
                last = BankUnavailable(f"bank answered {response.status_code} to {path}")
                if response.status_code < 500:
                    break
            log.warning("bank_call_failed", path=path, attempt=attempt, error=str(last))
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * attempt)
        raise BankUnavailable(f"bank unavailable for {method} {path}: {last}") from last

    def request_payout(self, request: PayoutRequest) -> BankPayout:
        body = {
            "batch_id": request.batch_id,
            "attempt": request.attempt,
            "merchant_id": request.merchant_id,
            "amount": request.amount,
            "currency": request.currency,
            "bank_account": request.bank_account,
        }
        return payout_from(self._call("POST", "/payouts", key=request.idempotency_key, body=body))

    def get_payout(self, payout_id: str) -> BankPayout:
        return payout_from(self._call("GET", f"/payouts/{payout_id}"))

    def find_payouts(self, batch_id: str) -> list[BankPayout]:
        found = self._call("GET", "/payouts", params={"batch_id": batch_id})
        items = found.get("data", []) if isinstance(found, dict) else found
        return [payout_from(item) for item in items]


def payout_from(data: dict[str, Any]) -> BankPayout:
    return BankPayout(
        id=str(data["id"]),
        batch_id=str(data["batch_id"]),
        attempt=int(data["attempt"]),
        status=PayoutStatus(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]),
        failure_code=data.get("failure_code"),
        failure_message=data.get("failure_message"),
    )


def _refusal(method: str, path: str, response: httpx.Response) -> BankMisconfigured:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("code") or "unexplained")
    detail = str(problem.get("detail") or response.text[:200])
    if response.status_code == 404 and code == "payout_not_found":
        return PayoutUnknownToBank(response.status_code, code, detail)
    log.error(
        "bank_configuration_error",
        method=method,
        path=path,
        status=response.status_code,
        code=code,
        detail=detail,
    )
    return BankMisconfigured(response.status_code, code, detail)

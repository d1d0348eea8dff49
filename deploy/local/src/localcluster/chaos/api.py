"""The platform as a merchant, an operator and a tester reach it: the payment API, the ledger's
and settlement's operator APIs, and the PSP simulator's admin API (its records and its faults).

Plain ``urllib`` keeps the cluster tooling free of an HTTP client dependency.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from localcluster.config import HOST, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.secrets import SIGNING_KEY_ID
from paykit.auth.audiences import (
    ADMIN_AUDIENCE,
    LEDGER_ADMIN_SCOPE,
    PAYMENTS_API_AUDIENCE,
    SETTLEMENT_ADMIN_SCOPE,
)
from paykit.auth.jwt import SigningKey
from paykit.testing import wait_until

REQUEST_TIMEOUT = 10.0


def _call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (URLs built from the cluster's ports)
        url, data=data, method=method, headers=headers or {}
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def answers_ready(base_url: str) -> bool:
    try:
        return _call("GET", f"{base_url}/readyz")[0] == 200
    except OSError:
        return False


class PlatformApi:
    """A merchant's token for the payment API, and the simulator's records of what it charged."""

    def __init__(self, config: ClusterConfig, merchant: str = "MER_chaos") -> None:
        pem = config.state_dir / "secrets" / "jwt-signing.pem"
        key = SigningKey(pem.read_bytes(), SIGNING_KEY_ID)

        def bearer(audience: str, subject: str, scopes: tuple[str, ...]) -> dict[str, str]:
            token = key.issue(
                issuer="payments-gateway",
                audience=audience,
                subject=subject,
                ttl=timedelta(hours=12),
                scopes=scopes,
            )
            return {"Authorization": f"Bearer {token}"}

        self.merchant = merchant
        self.auth = bearer(PAYMENTS_API_AUDIENCE, merchant, ("payments:read", "payments:write"))
        self.operator_auth = bearer(
            ADMIN_AUDIENCE, "ops_chaos", (LEDGER_ADMIN_SCOPE, SETTLEMENT_ADMIN_SCOPE)
        )
        self.payment_url = f"http://{HOST}:{config.http_port('payment')}"
        self.psp_url = f"http://{HOST}:{config.http_port('psp')}"
        self.webhook_url = f"http://{HOST}:{config.http_port('webhook')}"
        self.ledger_url = f"http://{HOST}:{config.http_port('ledger')}"
        self.settlement_url = f"http://{HOST}:{config.http_port('settlement')}"
        self.gateway_url = f"http://{HOST}:{config.http_port('gateway')}"

    @property
    def web_urls(self) -> tuple[str, ...]:
        """Every web process of the platform, each answering ``/readyz``."""
        return (
            self.gateway_url,
            self.payment_url,
            self.webhook_url,
            self.ledger_url,
            self.settlement_url,
            self.psp_url,
        )

    def wait_ready(self, timeout: float) -> None:
        urls = (self.payment_url, self.psp_url, self.webhook_url)
        if not wait_until(lambda: all(answers_ready(url) for url in urls), timeout, 0.5):
            raise ClusterError(
                f"the payment, PSP and webhook APIs were not ready in {timeout:.0f}s"
            )

    def create_payment(self, payment_method: str) -> str:
        """POST one payment, retrying an answer that was lost; returns its id."""
        key = uuid.uuid4().hex
        body = {"amount": 3000, "currency": "EUR", "payment_method": payment_method}
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer = _call(
                    "POST",
                    f"{self.payment_url}/payments",
                    body,
                    {**self.auth, "Idempotency-Key": key},
                )
            except OSError as error:
                status, answer = 0, str(error)
            if status in (200, 201):
                return str(answer["id"])
            if time.monotonic() > deadline:
                raise ClusterError(f"POST /payments kept failing: {status} {answer}")
            time.sleep(0.2)  # a 409 in flight or a refused connection: same key, same payment

    def create_burst(self, payment_methods: Sequence[str], concurrency: int = 8) -> list[str]:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="burst") as pool:
            return list(pool.map(self.create_payment, payment_methods))

    def charges(self, payment_id: str) -> list[dict[str, Any]]:
        status, answer = _call("GET", f"{self.psp_url}/_admin/charges?reference={payment_id}")
        if status != 200:
            raise ClusterError(f"PSP admin charges for {payment_id}: {status} {answer}")
        return list(answer["data"])

    def charges_of(self, payment_ids: Sequence[str], concurrency: int = 8) -> dict[str, list[Any]]:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="psp-admin") as pool:
            return dict(zip(payment_ids, pool.map(self.charges, payment_ids), strict=True))

    def set_psp_down(self, down: bool) -> None:
        """Every API call to the PSP answers 503 while down (its admin API still answers)."""
        method, body = ("PUT", {"down": True}) if down else ("DELETE", None)
        status, answer = _call(method, f"{self.psp_url}/_admin/faults", body)
        if status != 200:
            raise ClusterError(f"PSP admin faults {method}: {status} {answer}")

    def trial_balance(self) -> dict[str, Any]:
        return self._operator_get(f"{self.ledger_url}/admin/trial-balance")

    def run_settlement(self, cutoff: str) -> dict[str, Any]:
        """An operator's settlement run of ``cutoff``: the batches it closed and carried."""
        status, answer = _call(
            "POST", f"{self.settlement_url}/settlements/run", {"cutoff": cutoff}, self.operator_auth
        )
        if status != 200:
            raise ClusterError(f"POST /settlements/run: {status} {answer}")
        return dict(answer)

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self._operator_get(f"{self.settlement_url}/settlements/admin/batches/{batch_id}")

    def _operator_get(self, url: str) -> dict[str, Any]:
        status, answer = _call("GET", url, headers=self.operator_auth)
        if status != 200:
            raise ClusterError(f"GET {url}: {status} {answer}")
        return dict(answer)

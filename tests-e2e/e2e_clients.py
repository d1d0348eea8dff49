"""The platform as its users meet it: a merchant through the gateway's public ``/v1`` API with
a token from ``POST /v1/auth/token``, and an operator through the admin APIs payctl drives (the
gateway's ``/v1/admin``, the ledger's and settlement's admin routes, the webhook log)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from e2e_observe import E2E_TIMEOUT, eventually

CURRENCY = "EUR"
# LEDGER_FEE_POLICY's default for EUR: 140 basis points + 25 minor units
DEFAULT_EUR_FEE = (140, 25)


def fee_of(amount: int, policy: str | None = None) -> int:
    """The platform's fee on a EUR payment of ``amount`` under ``policy`` (the ledger's
    ``LEDGER_FEE_POLICY``): basis points rounded half up, plus the fixed part, capped at it."""
    bps, fixed = DEFAULT_EUR_FEE
    for rule in (policy or "").split(","):
        name, _, value = rule.partition("=")
        if name.strip() in (CURRENCY, "*") and "+" in value:
            bps, fixed = (int(part) for part in value.split("+"))
            if name.strip() == CURRENCY:
                break
    return min(amount, (amount * bps + 5000) // 10000 + fixed)


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, timeout=15, headers=headers)


def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


@dataclass
class Merchant:
    """A merchant's view of the platform, all of it through the gateway."""

    merchant_id: str
    api: httpx.Client
    access_token: str
    key_id: str = ""
    client_id: str = ""
    client_secret: str = ""

    def post_payment(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return self.api.post(
            "/v1/payments", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
        )

    def create_payment(self, amount: int = 3000, method: str = "pm_card_visa") -> dict[str, Any]:
        body = {"amount": amount, "currency": CURRENCY, "payment_method": method}
        created: dict[str, Any] = _json(self.post_payment(body), 201)
        return created

    def payment(self, payment_id: str) -> dict[str, Any]:
        found: dict[str, Any] = _json(self.api.get(f"/v1/payments/{payment_id}"))
        return found

    def payment_ids(self) -> list[str]:
        return [p["id"] for p in _json(self.api.get("/v1/payments"))["data"]]

    def wait_for_status(
        self, payment_id: str, status: str, timeout: float = E2E_TIMEOUT
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            payment = self.payment(payment_id)
            return payment if payment["status"] == status else None

        return eventually(reached, f"{payment_id} to become {status}", timeout)

    def post_refund(self, payment_id: str, amount: int, key: str | None = None) -> httpx.Response:
        return self.api.post(
            f"/v1/payments/{payment_id}/refunds",
            json={"amount": amount},
            headers={"Idempotency-Key": key or uuid.uuid4().hex},
        )

    def refund(self, payment_id: str, amount: int) -> dict[str, Any]:
        created: dict[str, Any] = _json(self.post_refund(payment_id, amount), 201)
        return created

    def refunds(self, payment_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _json(self.api.get(f"/v1/payments/{payment_id}/refunds"))[
            "data"
        ]
        return found

    def balances(self, as_of: str | None = None) -> dict[str, int]:
        """Escrow, payable and receivable in EUR ({} before the first posting)."""
        params = {"as_of": as_of} if as_of else {}
        rows = _json(self.api.get("/v1/balances", params=params))["data"]
        found = [row for row in rows if row["currency"] == CURRENCY]
        return {k: found[0][k] for k in ("escrow", "payable", "receivable")} if found else {}

    def entries(self, account: str) -> list[dict[str, Any]]:
        """The account's EUR entries, oldest first."""
        page = _json(
            self.api.get("/v1/ledger/entries", params={"account": account, "currency": CURRENCY})
        )
        return list(reversed(page["data"]))

    def moves(self, account: str) -> list[tuple[str, str, int]]:
        return [(e["kind"], e["direction"], e["amount"]) for e in self.entries(account)]

    def settlements(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _json(self.api.get("/v1/settlements"))["data"]
        return found

    def settlement(self, batch_id: str) -> dict[str, Any]:
        found: dict[str, Any] = _json(self.api.get(f"/v1/settlements/{batch_id}"))
        return found

    def settlement_report(self, batch_id: str) -> list[dict[str, str]]:
        response = self.api.get(f"/v1/settlements/{batch_id}/report.csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text)))

    def batch_holding(self, payment_id: str) -> dict[str, Any] | None:
        """The settlement batch one of whose items is the payment, once there is one."""
        for listed in self.settlements():
            batch = self.settlement(listed["id"])
            if any(item["payment_id"] == payment_id for item in batch["items"]):
                return batch
        return None


@dataclass
class Operator:
    """An operator: merchants and keys at the gateway, and the admin APIs behind it."""

    gateway: httpx.Client  # the public gateway, no token
    admin: httpx.Client  # the gateway with the operator's token
    ledger: httpx.Client
    settlement: httpx.Client
    webhook: httpx.Client
    made: list[httpx.Client] = field(default_factory=list)

    def new_merchant(self) -> Merchant:
        made = _json(self.admin.post("/v1/admin/merchants", json={"name": uuid.uuid4().hex}), 201)
        credentials = {"client_id": made["client_id"], "client_secret": made["client_secret"]}
        token = _json(self.gateway.post("/v1/auth/token", json=credentials))["access_token"]
        api = client(str(self.gateway.base_url), token)
        self.made.append(api)
        return Merchant(
            made["merchant_id"],
            api,
            token,
            made["key_id"],
            made["client_id"],
            made["client_secret"],
        )

    def trial_balance(self) -> dict[str, Any]:
        found: dict[str, Any] = _json(self.ledger.get("/admin/trial-balance"))
        return found

    def run_settlement(self, cutoff: datetime | None = None) -> dict[str, Any]:
        at = (cutoff or datetime.now(UTC)).isoformat()
        ran: dict[str, Any] = _json(self.settlement.post("/settlements/run", json={"cutoff": at}))
        return ran

    def batch(self, batch_id: str) -> dict[str, Any]:
        found: dict[str, Any] = _json(self.settlement.get(f"/settlements/admin/batches/{batch_id}"))
        return found

    def retry_batch(self, batch_id: str, bank_account: str | None = None) -> httpx.Response:
        body = {"bank_account": bank_account} if bank_account else None
        return self.settlement.post(f"/settlements/batches/{batch_id}/retry", json=body)

    def adjust(self, entries: list[dict[str, Any]], reason: str, key: str) -> httpx.Response:
        body = {"currency": CURRENCY, "entries": entries, "reason": reason}
        return self.ledger.post("/admin/adjustments", json=body, headers={"Idempotency-Key": key})

    def transaction(self, transaction_id: str) -> dict[str, Any]:
        found: dict[str, Any] = _json(self.ledger.get(f"/admin/transactions/{transaction_id}"))
        return found

    def reconcile(self, day: date) -> dict[str, Any]:
        period = {"from": f"{day}T00:00:00Z", "to": f"{day + timedelta(days=1)}T00:00:00Z"}
        found: dict[str, Any] = _json(
            self.settlement.post("/settlements/reconciliation", json=period)
        )
        return found

    def webhook_verdicts(self, payment_id: str) -> list[str]:
        """The webhook service's verdicts on the deliveries about a payment, oldest first."""
        page = _json(self.webhook.get("/admin/deliveries", params={"payment_id": payment_id}))
        return [d["verdict"] for d in reversed(page["deliveries"])]

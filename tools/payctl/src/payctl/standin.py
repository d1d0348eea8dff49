"""A stand-in for the platform's HTTP APIs, small and real (Flask on a free port); tests only.

It answers the gateway's public ``/v1`` routes and its admin routes as the gateway's contract
gives them, and the ledger's and settlement's admin routes payctl calls, with problem+json
errors rendered by the kit. Payments move one step each time they are read (created,
processing, succeeded, then in a batch that closes, is submitted and is paid), so
``payctl payments follow`` can be watched against it.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from click.testing import Result
from flask import Flask, Response, jsonify, request

from paykit.problems import Problem
from paykit.web import json_body, problem_response

ADMIN_TOKEN = "standin-admin-token"  # noqa: S105 (the stand-in's, not a secret)
PAYMENT_STAGES = ["created", "processing", "succeeded"]
BATCH_STAGES = ["open", "closed", "submitted", "paid"]
DECLINED = "pm_card_declined"


Payctl = Callable[..., Result]
"""A test's way to run payctl: ``payctl(*args, input=..., **environment)``."""


@dataclass
class StandInState:
    token_lifetime: int = 900
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (secret, merchant)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> merchant
    merchants: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    reconciliation_status: str = "matched"
    requests: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_key(self, merchant_id: str) -> dict[str, Any]:
        number = next(self.ids)
        client_id, secret = f"ci_{number}", f"sk_test_{secrets.token_hex(8)}"
        self.clients[client_id] = (secret, merchant_id)
        self.keys.setdefault(merchant_id, []).append(
            {"key_id": f"key_{number}", "client_id": client_id, "status": "active"}
        )
        return {
            "merchant_id": merchant_id,
            "key_id": f"key_{number}",
            "client_id": client_id,
            "client_secret": secret,
        }


@dataclass(frozen=True)
class StandIn:
    state: StandInState
    url: str


def _bearer() -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


def create_standin(state: StandInState) -> Flask:
    app = Flask("standin-platform")  # not the kit's app: its request logs would mix into payctl's
    app.register_error_handler(Problem, problem_response)

    @app.before_request
    def record() -> None:
        state.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "args": request.args.to_dict(),
                "idempotency_key": request.headers.get("Idempotency-Key"),
            }
        )

    def merchant() -> str:
        found = state.tokens.get(_bearer())
        if found is None:
            raise Problem(401, "invalid_token", detail="The bearer token is not valid.")
        return found

    def operator() -> None:
        if _bearer() != ADMIN_TOKEN:
            raise Problem(401, "invalid_token", detail="An admin token is needed.")

    @app.post("/v1/auth/token")
    def token() -> Response:
        body = json_body()
        known = state.clients.get(str(body.get("client_id")))
        if known is None or known[0] != body.get("client_secret"):
            raise Problem(401, "invalid_client", detail="Unknown client or wrong secret.")
        issued = f"tok_{secrets.token_hex(8)}"
        state.tokens[issued] = known[1]
        return jsonify(
            {"access_token": issued, "token_type": "Bearer", "expires_in": state.token_lifetime}
        )

    @app.post("/v1/admin/merchants")
    def create_merchant() -> Response:
        operator()
        merchant_id = f"MER_{next(state.ids)}"
        state.merchants.append({"merchant_id": merchant_id, "name": json_body()["name"]})
        response = jsonify(state.new_key(merchant_id))
        response.status_code = 201
        return response

    @app.get("/v1/admin/merchants")
    def list_merchants() -> Response:
        operator()
        return jsonify({"data": state.merchants})

    @app.route("/v1/admin/merchants/<merchant_id>/keys", methods=["GET", "POST"])
    def merchant_keys(merchant_id: str) -> Response:
        operator()
        if merchant_id not in state.keys:
            raise Problem(404, "merchant_not_found", detail=f"no merchant {merchant_id}")
        if request.method == "POST":
            return jsonify(state.new_key(merchant_id))
        return jsonify({"data": state.keys[merchant_id]})

    @app.post("/v1/admin/merchants/<merchant_id>/keys/<key_id>/revoke")
    def revoke(merchant_id: str, key_id: str) -> Response:
        operator()
        for key in state.keys.get(merchant_id, []):
            if key["key_id"] == key_id:
                key["status"] = "revoked"
                state.clients.pop(key["client_id"], None)
                return jsonify(key)
        raise Problem(404, "key_not_found", detail=f"no key {key_id}")

    @app.post("/v1/payments")
    def create_payment() -> Response:
        owner = merchant()
        if not request.headers.get("Idempotency-Key"):
            raise Problem(400, "idempotency_key_missing")
        body = json_body()
        if body.get("currency") not in {"EUR", "USD", "GBP"}:
            raise Problem(
                422,
                "validation_failed",
                detail="The request body is not valid.",
                extra={"errors": {"currency": ["Must be one of EUR, GBP, USD."]}},
            )
        payment_id = f"PAY_{next(state.ids):06d}"
        state.payments[payment_id] = {
            "id": payment_id,
            "object": "payment",
            "status": "created",
            "merchant_id": owner,
            "amount": body["amount"],
            "currency": body["currency"],
            "payment_method": body["payment_method"],
            "description": body.get("description"),
            "amount_refunded": 0,
            "failure_code": None,
            "created_at": f"2026-12-01T10:00:{len(state.payments):02d}Z",
        }
        state.reads[payment_id] = 0
        response = jsonify(state.payments[payment_id])
        response.status_code = 201
        return response

    def owned(payment_id: str) -> dict[str, Any]:
        found = state.payments.get(payment_id)
        if found is None or found["merchant_id"] != merchant():
            raise Problem(404, "payment_not_found", detail=f"no payment {payment_id}")
        return found

    @app.get("/v1/payments/<payment_id>")
    def get_payment(payment_id: str) -> Response:
        payment = owned(payment_id)
        state.reads[payment_id] += 1
        advance(payment, state.reads[payment_id])
        return jsonify(payment)

    def advance(payment: dict[str, Any], reads: int) -> None:
        """Each read moves the payment (then its batch) one step on."""
        if payment["payment_method"] == DECLINED:
            payment["status"] = "processing" if reads < 2 else "failed"
            payment["failure_code"] = "card_declined" if reads >= 2 else None
            return
        payment["status"] = PAYMENT_STAGES[min(reads, len(PAYMENT_STAGES) - 1)]
        stage = reads - len(PAYMENT_STAGES)
        if stage < 0:
            return
        batch_id = f"STL_{payment['id']}"
        batch = state.batches.setdefault(
            batch_id,
            {
                "id": batch_id,
                "merchant_id": payment["merchant_id"],
                "currency": payment["currency"],
                "item_count": 1,
                "net_amount": payment["amount"] - 10,
                "items": [
                    {
                        "id": f"ITM_{payment['id']}",
                        "kind": "payment",
                        "payment_id": payment["id"],
                        "gross_amount": payment["amount"],
                        "fee_amount": 10,
                        "net_amount": payment["amount"] - 10,
                    },
                ],
                "payouts": [],
                "created_at": "2026-12-01T11:00:00Z",
            },
        )
        batch["status"] = BATCH_STAGES[min(stage, len(BATCH_STAGES) - 1)]

    @app.get("/v1/payments")
    def list_payments() -> Response:
        owner = merchant()
        mine = [p for p in reversed(state.payments.values()) if p["merchant_id"] == owner]
        if request.args.get("status"):
            mine = [p for p in mine if p["status"] == request.args["status"]]
        start = int(request.args.get("cursor", 0))
        limit = int(request.args.get("limit", 20))
        shown = mine[start : start + limit]
        more = start + limit < len(mine)
        return jsonify({"data": shown, "next_cursor": str(start + limit) if more else None})

    @app.post("/v1/payments/<payment_id>/refunds")
    def refund(payment_id: str) -> Response:
        payment = owned(payment_id)
        amount = json_body().get("amount") or payment["amount"] - payment["amount_refunded"]
        if amount > payment["amount"] - payment["amount_refunded"]:
            raise Problem(422, "refund_exceeds_captured", detail="More than is left to refund.")
        payment["amount_refunded"] += amount
        response = jsonify(
            {
                "id": f"REF_{next(state.ids)}",
                "object": "refund",
                "payment_id": payment_id,
                "status": "pending",
                "amount": amount,
                "currency": payment["currency"],
            }
        )
        response.status_code = 201
        return response

    @app.get("/v1/balances")
    def balances() -> Response:
        owner = merchant()
        return jsonify(
            {
                "merchant_id": owner,
                "as_of": request.args.get("as_of"),
                "data": [{"currency": "EUR", "escrow": 2930, "payable": 0, "receivable": 0}],
            }
        )

    @app.get("/v1/settlements")
    def list_batches() -> Response:
        owner = merchant()
        rows = [
            {k: v for k, v in b.items() if k not in {"items", "payouts"}}
            for b in state.batches.values()
            if b["merchant_id"] == owner
        ]
        return jsonify({"data": rows, "next_cursor": None})

    def batch_of(batch_id: str) -> dict[str, Any]:
        found = state.batches.get(batch_id)
        if found is None or found["merchant_id"] != merchant():
            raise Problem(404, "batch_not_found", detail=f"no batch {batch_id}")
        return found

    @app.get("/v1/settlements/<batch_id>")
    def get_batch(batch_id: str) -> Response:
        return jsonify(batch_of(batch_id))

    @app.get("/v1/settlements/<batch_id>/report.csv")
    def batch_csv(batch_id: str) -> Response:
        batch = batch_of(batch_id)
        lines = (
            ["item_id,kind,payment_id,net_amount"]
            + [f"{i['id']},{i['kind']},{i['payment_id']},{i['net_amount']}" for i in batch["items"]]
            + [f"total,,,{batch['net_amount']}"]
        )
        return Response("\n".join(lines) + "\n", mimetype="text/csv")

    @app.get("/admin/trial-balance")
    def trial_balance() -> Response:
        operator()
        accounts = [
            {
                "account": "psp_clearing",
                "type": "asset",
                "debits": 3000,
                "credits": 0,
                "balance": 3000,
                "matches_entries": True,
            },
            {
                "account": "merchant:MER_1:escrow",
                "type": "liability",
                "debits": 0,
                "credits": 3000,
                "balance": 3000,
                "matches_entries": True,
            },
        ]
        summary = {
            "currency": "EUR",
            "debits": 3000,
            "credits": 3000,
            "accounts": accounts,
            "balanced": True,
        }
        return jsonify({"data": [summary], "balanced": True})

    @app.post("/settlements/run")
    def run() -> Response:
        operator()
        cutoff = json_body()["cutoff"]
        closed = [
            {
                "id": "STL_run",
                "merchant_id": "MER_1",
                "currency": "EUR",
                "item_count": 2,
                "net_amount": 5860,
            }
        ]
        return jsonify(
            {
                "cutoff": cutoff,
                "eligible_before": cutoff,
                "replayed": False,
                "closed": closed,
                "carried_forward": [],
            }
        )

    @app.post("/settlements/reconciliation")
    def reconciliation() -> Response:
        operator()
        period = json_body()
        counts = {"matched": 3, "missing_in_ledger": 0}
        if state.reconciliation_status != "matched":
            counts["missing_in_ledger"] = 1
        check = {"status": state.reconciliation_status, "counts": counts, "lines": []}
        return jsonify(
            {
                "status": state.reconciliation_status,
                "from": period["from"],
                "to": period["to"],
                "checks": {"settlement_vs_ledger": check},
            }
        )

    return app

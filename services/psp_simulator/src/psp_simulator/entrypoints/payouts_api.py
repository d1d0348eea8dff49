"""The bank's side of the simulator: payouts to merchants, behind the same injected faults."""

from typing import Final

from flask import Blueprint, Response, jsonify, request

from paykit.problems import Problem
from paykit.web import json_body
from psp_simulator.entrypoints.api import apply_faults, created_or_replayed, idempotency_key
from psp_simulator.entrypoints.reports_api import utc_day
from psp_simulator.entrypoints.representations import payout_json
from psp_simulator.entrypoints.schemas import PayoutRequest, parse
from psp_simulator.service_layer import payouts
from psp_simulator.service_layer.commands import CreatePayout
from psp_simulator.service_layer.simulator import Simulator

_PAYOUT_REQUEST: Final = PayoutRequest()


def payouts_blueprint(simulator: Simulator) -> Blueprint:
    bank = Blueprint("payouts", __name__)
    bank.before_request(lambda: apply_faults(simulator))

    @bank.post("/payouts")
    def create_payout() -> Response:
        key = idempotency_key()
        fields = parse(_PAYOUT_REQUEST, json_body())
        expected_key = f"{fields['batch_id']}:{fields['attempt']}"
        if key != expected_key:
            # One payout per batch attempt is the point of the key: any other key is a bug.
            raise Problem(
                422,
                "idempotency_key_mismatch",
                detail=f"The Idempotency-Key of a payout is <batch_id>:<attempt>: {expected_key}.",
            )
        receipt = payouts.create_payout(simulator, CreatePayout(idempotency_key=key, **fields))
        response = created_or_replayed(payout_json(receipt), receipt.created)
        response.headers["Location"] = f"/payouts/{receipt.payout.id}"
        return response

    @bank.get("/payouts/<payout_id>")
    def get_payout(payout_id: str) -> Response:
        return jsonify(payout_json(payouts.get_payout(simulator, payout_id)))

    @bank.get("/payouts")
    def find_payouts() -> Response:
        batch_id = request.args.get("batch_id", "").strip()
        if "date" in request.args and not batch_id:
            found = payouts.payouts_on_day(simulator, utc_day(request.args["date"]))
        elif batch_id:
            found = payouts.payouts_for_batch(simulator, batch_id)
        else:
            raise Problem(400, "invalid_request", detail="Give ?batch_id=... or ?date=YYYY-MM-DD.")
        return jsonify(data=[payout_json(receipt) for receipt in found])

    return bank

"""The provider's public API: charges and refunds, behind the injected faults."""

from typing import Final

from flask import Blueprint, Response, jsonify, request

from paykit.canonical import valid_idempotency_key
from paykit.problems import Problem
from paykit.web import json_body
from psp_simulator.domain.faults import Verdict
from psp_simulator.entrypoints.representations import charge_json, refund_json
from psp_simulator.entrypoints.schemas import ChargeRequest, RefundRequest, parse, reference_query
from psp_simulator.service_layer import charges, refunds
from psp_simulator.service_layer.commands import CreateCharge, CreateRefund
from psp_simulator.service_layer.faults import admit_call, hold_if_hung
from psp_simulator.service_layer.simulator import Simulator

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
_CHARGE_REQUEST: Final = ChargeRequest()
_REFUND_REQUEST: Final = RefundRequest()


def api_blueprint(simulator: Simulator) -> Blueprint:
    api = Blueprint("api", __name__)

    api.before_request(lambda: apply_faults(simulator))

    @api.post("/charges")
    def create_charge() -> Response:
        key = idempotency_key()
        fields = parse(_CHARGE_REQUEST, json_body())
        hold_if_hung(simulator, fields["payment_method"])
        receipt = charges.create_charge(simulator, CreateCharge(idempotency_key=key, **fields))
        response = created_or_replayed(charge_json(receipt), receipt.created)
        response.headers["Location"] = f"/charges/{receipt.charge.id}"
        return response

    @api.get("/charges/<charge_id>")
    def get_charge(charge_id: str) -> Response:
        return jsonify(charge_json(charges.get_charge(simulator, charge_id)))

    @api.get("/charges")
    def find_charges() -> Response:
        found = charges.charges_with_reference(simulator, reference_query())
        return jsonify(data=[charge_json(receipt) for receipt in found])

    @api.post("/refunds")
    def create_refund() -> Response:
        key = idempotency_key()
        fields = parse(_REFUND_REQUEST, json_body())
        hold_if_hung(simulator, None)
        receipt = refunds.create_refund(simulator, CreateRefund(idempotency_key=key, **fields))
        response = created_or_replayed(refund_json(receipt), receipt.created)
        response.headers["Location"] = f"/refunds/{receipt.refund.id}"
        return response

    @api.get("/refunds/<refund_id>")
    def get_refund(refund_id: str) -> Response:
        return jsonify(refund_json(refunds.get_refund(simulator, refund_id)))

    return api


def apply_faults(simulator: Simulator) -> None:
    """The injected faults, before a public API call does anything."""
    verdict = admit_call(simulator)
    if verdict is Verdict.UNAVAILABLE:
        raise Problem(
            503,
            "psp_unavailable",
            detail="The payment provider is unavailable.",
            headers={"Retry-After": "1"},
        )
    if verdict is Verdict.INTERNAL_ERROR:
        raise Problem(500, "internal_error", detail="The payment provider failed.")


def idempotency_key() -> str:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None or not key.strip():
        raise Problem(
            400, "idempotency_key_required", detail=f"Send an {IDEMPOTENCY_KEY_HEADER} header."
        )
    if not valid_idempotency_key(key):
        raise Problem(
            400,
            "invalid_idempotency_key",
            detail="An idempotency key is 1 to 255 visible ASCII characters.",
        )
    return key


def created_or_replayed(body: dict[str, object], created: bool) -> Response:
    response = jsonify(body)
    response.status_code = 201 if created else 200
    if not created:
        response.headers[REPLAYED_HEADER] = "true"
    return response

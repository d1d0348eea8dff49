"""Test controls: injected faults and the webhook delivery log. Never subject to faults."""

from typing import Final

from flask import Blueprint, Response, jsonify, request

from paykit.problems import Problem
from paykit.web import json_body
from psp_simulator.domain.faults import Faults
from psp_simulator.entrypoints.representations import charge_json, delivery_json, faults_json
from psp_simulator.entrypoints.schemas import FaultsRequest, parse, reference_query
from psp_simulator.service_layer.charges import charges_with_reference
from psp_simulator.service_layer.faults import (
    clear_faults,
    current_faults,
    hang_state,
    set_faults,
)
from psp_simulator.service_layer.simulator import Simulator

MAX_LISTED: Final = 1000
_FAULTS_REQUEST: Final = FaultsRequest()


def admin_blueprint(simulator: Simulator) -> Blueprint:
    admin = Blueprint("admin", __name__, url_prefix="/_admin")

    @admin.get("/faults")
    def get_faults() -> Response:
        return jsonify(faults_json(current_faults(simulator), hang_state(simulator)))

    @admin.put("/faults")
    def put_faults() -> Response:
        try:
            faults = Faults(**parse(_FAULTS_REQUEST, json_body()))
        except ValueError as error:
            raise Problem(400, "invalid_request", detail=str(error)) from None
        settings = set_faults(simulator, faults)
        return jsonify(faults_json(settings, hang_state(simulator)))

    @admin.delete("/faults")
    def delete_faults() -> Response:
        return jsonify(faults_json(clear_faults(simulator), hang_state(simulator)))

    @admin.get("/charges")
    def list_charges() -> Response:
        """The same as GET /charges?reference=, but answered even while faults are on."""
        found = charges_with_reference(simulator, reference_query())
        return jsonify(data=[charge_json(receipt) for receipt in found])

    @admin.get("/deliveries")
    def list_deliveries() -> Response:
        reference = request.args.get("reference", "").strip()
        state = request.args.get("state", "").strip()
        if reference:
            records = simulator.deliveries.for_reference(reference)
        elif state == "dead":
            records = simulator.deliveries.dead(_limit())
        else:
            raise Problem(
                400,
                "invalid_request",
                detail="Give ?reference=PAY_... or ?state=dead.",
            )
        if state:
            records = [record for record in records if record.state.value == state]
        return jsonify(data=[delivery_json(record) for record in records])

    return admin


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LISTED:
        raise Problem(400, "invalid_request", detail=f"limit is a number from 1 to {MAX_LISTED}.")
    return int(raw)

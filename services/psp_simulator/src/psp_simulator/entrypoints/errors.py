"""Domain refusals as problem+json: one table, one handler, stable codes."""

from collections.abc import Mapping
from typing import Any, Final

from flask import Flask, Response

from paykit.logging import get_logger
from paykit.problems import Problem
from paykit.web import problem_response
from psp_simulator.domain.errors import (
    BankUnavailable,
    ChargeNotFound,
    ChargeNotRefundable,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    PayoutIdempotencyKeyReused,
    PayoutNotFound,
    RefundExceedsCharge,
    RefundNotFound,
    RefundOfUnknownCharge,
    SimulatorError,
    UnknownPaymentMethod,
)

PROBLEM_CODES: Final[Mapping[type[SimulatorError], tuple[int, str]]] = {
    UnknownPaymentMethod: (422, "unknown_payment_method"),
    IdempotencyKeyReused: (422, "idempotency_key_reused"),
    ChargeNotFound: (404, "charge_not_found"),
    RefundNotFound: (404, "refund_not_found"),
    RefundOfUnknownCharge: (422, "unknown_charge"),
    ChargeNotRefundable: (422, "charge_not_refundable"),
    RefundExceedsCharge: (422, "refund_exceeds_charge"),
    ConcurrentUpdate: (409, "concurrent_update"),
    PayoutIdempotencyKeyReused: (409, "idempotency_key_reused"),
    PayoutNotFound: (404, "payout_not_found"),
    BankUnavailable: (503, "bank_unavailable"),
}

_log = get_logger(__name__)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(SimulatorError, _render_refusal)


def problem_for(error: SimulatorError) -> Problem:
    status, code = PROBLEM_CODES.get(type(error), (500, "internal_error"))
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, RefundExceedsCharge):
        extra["refundable_amount"] = error.refundable
    if isinstance(error, ConcurrentUpdate | BankUnavailable):
        headers["Retry-After"] = "1"
    return Problem(status, code, detail=str(error), extra=extra, headers=headers)


def _render_refusal(error: SimulatorError) -> Response:
    problem = problem_for(error)
    _log.info("request_refused", status=problem.status, code=problem.code)
    return problem_response(problem)

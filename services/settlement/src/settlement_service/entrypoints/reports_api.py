"""Batch reports (a merchant's own batches, JSON and CSV) and reconciliation (operators).

Merchants read ``/settlements/batches/<id>/report`` and ``.../report.csv``; another merchant's
batch is not found. Operators ``POST /settlements/reconciliation`` with a period; their bearer
token is relayed to the ledger, whose operator API reconciliation reads.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError

from payevents.fieldtypes import UtcDateTime
from paykit.auth.jwt import bearer_token
from paykit.problems import Problem
from paykit.web import json_body
from paykit.web_auth import BearerAuth
from settlement_service.adapters.reconciliation_reads import PlatformRecordsInDatabase
from settlement_service.bootstrap import SettlementService
from settlement_service.domain.errors import BatchNotFound
from settlement_service.domain.reconciliation import InvalidPeriod, Period
from settlement_service.reconciliation_bootstrap import ReconciliationSources
from settlement_service.service_layer.reconciliation import reconcile
from settlement_service.service_layer.reconciliation_ports import SourceUnavailable
from settlement_service.service_layer.reports import ITEM_FIELDS, BatchReport, batch_report

TOTAL_ONLY_FIELDS = ("refunded_amount", "reversed_amount", "fee_returned_amount", "item_count")


class PeriodSchema(Schema):
    from_ = UtcDateTime(data_key="from", required=True)
    to = UtcDateTime(required=True)


def json_ready(value: Any) -> Any:
    """Times as RFC 3339 UTC (``...Z``), all the way down."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def report_csv(report: BatchReport) -> str:
    """A header row, one row per item, then the ``total`` row: the batch's totals under the
    same columns (gross and fee: the payments'), with the refunded and reversed amounts, the
    fees reversals returned and the item count beside."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ITEM_FIELDS, *TOTAL_ONLY_FIELDS])
    for item in report.items:
        writer.writerow(["" if item[k] is None else json_ready(item[k]) for k in ITEM_FIELDS])
    totals = report.totals.as_json()
    writer.writerow(
        ["total", *("" for _ in ITEM_FIELDS[1:4])]
        + [totals["gross_amount"], totals["fee_amount"], totals["net_amount"], "", ""]
        + [totals[k] for k in TOTAL_ONLY_FIELDS]
    )
    return out.getvalue()


def _report(service: SettlementService, batch_id: str, merchant_id: str) -> BatchReport:
    try:
        return batch_report(service.connections(), batch_id, merchant_id)
    except BatchNotFound as error:
        raise Problem(404, BatchNotFound.code, detail=str(error)) from None


def reports_blueprint(service: SettlementService, auth: BearerAuth) -> Blueprint:
    api = Blueprint("settlement_reports", __name__, url_prefix="/settlements")
    scope = service.settings.read_scope

    @api.get("/batches/<batch_id>/report")
    def report(batch_id: str) -> Response:
        merchant = auth.authorise_request(scope).subject
        return jsonify(json_ready(_report(service, batch_id, merchant).as_json()))

    @api.get("/batches/<batch_id>/report.csv")
    def report_as_csv(batch_id: str) -> Response:
        merchant = auth.authorise_request(scope).subject
        response = Response(report_csv(_report(service, batch_id, merchant)), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{batch_id}.csv"'
        return response

    return api


def reconciliation_blueprint(
    service: SettlementService, auth: BearerAuth, sources: ReconciliationSources | None
) -> Blueprint:
    """``sources``: None where the ledger or PSP has no address (503 until configured)."""
    api = Blueprint("settlement_reconciliation", __name__, url_prefix="/settlements")
    scope = service.settings.admin_scope

    @api.post("/reconciliation")
    def reconciliation() -> Response:
        auth.authorise_request(scope)
        try:
            body = PeriodSchema().load(json_body())
            period = Period(body["from_"], body["to"])
        except ValidationError as error:
            raise Problem(422, "validation_failed", extra={"errors": error.messages}) from None
        except InvalidPeriod as error:
            raise Problem(422, InvalidPeriod.code, detail=str(error)) from None
        if sources is None:
            raise Problem(503, "reconciliation_not_configured", detail="set LEDGER_URL, PSP_URL")
        relayed = bearer_token(request.headers.get("Authorization"))
        try:
            report = reconcile(
                period,
                PlatformRecordsInDatabase(service.connections()),
                sources.ledger(lambda: relayed),
                sources.psp,
                sources.bank,
            )
        except SourceUnavailable as error:
            raise Problem(502, "reconciliation_source_unavailable", detail=str(error)) from None
        return jsonify(json_ready(report.as_json()))

    return api

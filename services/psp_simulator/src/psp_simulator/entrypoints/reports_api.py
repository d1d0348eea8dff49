"""`GET /reports/settlement?date=YYYY-MM-DD`: the day's settlement report as CSV."""

import csv
import io
import re
from collections.abc import Sequence
from datetime import date
from typing import Final

from flask import Blueprint, Response, request

from paykit.problems import Problem
from psp_simulator.domain.settlement_report import REPORT_COLUMNS, ReportLine
from psp_simulator.entrypoints.api import apply_faults
from psp_simulator.entrypoints.representations import timestamp
from psp_simulator.service_layer.settlement_report import settlement_report
from psp_simulator.service_layer.simulator import Simulator

_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def reports_blueprint(simulator: Simulator) -> Blueprint:
    reports = Blueprint("reports", __name__)
    reports.before_request(lambda: apply_faults(simulator))

    @reports.get("/reports/settlement")
    def get_settlement_report() -> Response:
        day = utc_day(request.args.get("date", ""))
        lines = settlement_report(simulator, day)
        response = Response(render_csv(lines), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="settlement-{day.isoformat()}.csv"'
        )
        return response

    return reports


def render_csv(lines: Sequence[ReportLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.record_type.value,
                line.payment_id,
                line.refund_id or "",
                line.amount,
                line.currency,
                line.psp_fee,
                timestamp(line.occurred_at),
            ]
        )
    return out.getvalue()


def utc_day(raw: str) -> date:
    """A ``?date=`` parameter: one UTC calendar day, or 400 ``invalid_date``."""
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise Problem(
            400, "invalid_date", detail="Give ?date=YYYY-MM-DD, a UTC calendar day."
        ) from None

"""HTTP client of the PSP's daily settlement report (``GET /reports/settlement?date=``, CSV)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Final

import httpx

from settlement_service.service_layer.reconciliation_ports import PspReportLine, SourceUnavailable

COLUMNS: Final = ("record_type", "payment_id", "refund_id", "amount", "currency", "psp_fee")


class HttpPspReports:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        timeout = httpx.Timeout(timeout_seconds, connect=min(2.0, timeout_seconds))
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def settlement_report(self, day: date) -> list[PspReportLine]:
        path = "/reports/settlement"
        try:
            response = self.client.get(path, params={"date": day.isoformat()})
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"PSP unreachable for the {day} report: {error}") from error
        if response.status_code != 200:
            raise SourceUnavailable(f"PSP answered {response.status_code} for the {day} report")
        return parse_report(response.text)


def parse_report(text: str) -> list[PspReportLine]:
    """The report's lines; a report without the expected columns is no report."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise SourceUnavailable(f"the PSP's report lacks the columns {sorted(missing)}")
    try:
        return [
            PspReportLine(
                record_type=row["record_type"],
                payment_id=row["payment_id"],
                refund_id=row["refund_id"] or None,
                amount=int(row["amount"]),
                currency=row["currency"],
                psp_fee=int(row["psp_fee"]),
                occurred_at=datetime.fromisoformat(row["occurred_at"]),
            )
            for row in reader
        ]
    except (KeyError, ValueError) as error:
        raise SourceUnavailable(f"the PSP's report has a malformed line: {error}") from error

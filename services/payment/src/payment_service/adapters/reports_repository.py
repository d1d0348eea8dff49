"""Every PSP report with its verdict, kept so a report that changed nothing says why."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import dict_row

from paykit.db import Connection
from payment_service.domain.psp import PspStatus
from payment_service.domain.reports import Judgement, PspReport, ReportSource, Verdict
from payment_service.service_layer.unit_of_work import StoredReport


class PostgresReports:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, report: PspReport, judgement: Judgement) -> None:
        self.conn.execute(
            "INSERT INTO psp_reports (source, psp_event_id, payment_id, refund_id, status, amount,"
            " currency, psp_reference, failure_code, verdict, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                report.source.value,
                report.event_id,
                report.payment_id,
                report.refund_id,
                report.status.value,
                report.amount,
                report.currency,
                report.psp_reference,
                report.failure_code,
                judgement.verdict.value,
                judgement.reason,
            ),
        )

    def for_payment(self, payment_id: str, limit: int) -> Sequence[StoredReport]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT source, psp_event_id, payment_id, refund_id, status, amount, currency,"
                " psp_reference, failure_code, verdict, reason, recorded_at FROM psp_reports"
                " WHERE payment_id = %s ORDER BY id DESC LIMIT %s",
                (payment_id, limit),
            ).fetchall()
        return [
            StoredReport(
                PspReport(
                    event_id=row["psp_event_id"],
                    payment_id=row["payment_id"],
                    status=PspStatus(row["status"]),
                    amount=row["amount"],
                    currency=row["currency"],
                    psp_reference=row["psp_reference"],
                    failure_code=row["failure_code"],
                    refund_id=row["refund_id"],
                    source=ReportSource(row["source"]),
                ),
                Judgement(Verdict(row["verdict"]), row["reason"]),
                row["recorded_at"],
            )
            for row in rows
        ]

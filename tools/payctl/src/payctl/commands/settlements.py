"""Settlement batches (merchants, through the gateway) and settlement's operator API.

``run`` and ``reconcile`` are the settlement service's admin routes, asked with the operator's
admin token; reconciliation relays that token to the ledger, so it carries ``ledger:admin``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click

from payctl.options import json_option, session
from payctl.output import emit, fields, page, table
from payevents.statuses import BATCH_STATUSES

BATCH_COLUMNS = ["id", "status", "currency", "item_count", "net_amount", "period_end", "created_at"]
BATCH_FIELDS = [
    "id",
    "status",
    "merchant_id",
    "currency",
    "item_count",
    "gross_amount",
    "refunded_amount",
    "fee_amount",
    "reversed_amount",
    "fee_returned_amount",
    "net_amount",
    "period_start",
    "period_end",
    "attempt",
    "created_at",
    "updated_at",
]
ITEM_COLUMNS = ["id", "kind", "payment_id", "refund_id", "gross_amount", "fee_amount", "net_amount"]
PAYOUT_COLUMNS = ["attempt", "status", "amount", "currency", "bank_account", "failure_code"]
DISCREPANCIES = 1


@click.group()
def settlements() -> None:
    """Settlement batches: list, show, CSV report; and (operators) a settlement run."""


@settlements.command("list")
@click.option("--status", type=click.Choice(BATCH_STATUSES), default=None)
@click.option("--currency", default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the page before.")
@json_option
def list_batches(status: str | None, currency: str | None, limit: int, cursor: str | None) -> None:
    """The merchant's batches, newest first."""
    s = session()
    query = {"status": status, "currency": currency, "limit": limit, "cursor": cursor}
    found = s.merchant_gateway().get("/v1/settlements", query)
    emit(s.json, found, page(found, BATCH_COLUMNS))


@settlements.command("show")
@click.argument("batch_id")
@json_option
def show_batch(batch_id: str) -> None:
    """One batch with its items and payout attempts."""
    s = session()
    batch = s.merchant_gateway().get(f"/v1/settlements/{batch_id}")
    human = "\n\n".join(
        [
            fields(batch, [k for k in BATCH_FIELDS if k in batch]),
            "items\n" + table(batch.get("items") or [], ITEM_COLUMNS),
            "payouts\n" + table(batch.get("payouts") or [], PAYOUT_COLUMNS),
        ]
    )
    emit(s.json, batch, human)


@settlements.command("csv")
@click.argument("batch_id")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Default: stdout.")
def batch_csv(batch_id: str, output: Any) -> None:
    """The batch's report as CSV: one row per item, then a total row."""
    s = session()
    output.write(s.merchant_gateway().get_text(f"/v1/settlements/{batch_id}/report.csv"))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@settlements.command("run")
@click.option(
    "--cutoff",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="Close what was eligible before this time (UTC unless it says; default: now).",
)
@json_option
def run(cutoff: datetime | None) -> None:
    """Close batches up to a cutoff and pay them out (operators); the same cutoff replays."""
    s = session()
    moment = _now() if cutoff is None else cutoff
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    result = s.settlement_admin().post("/settlements/run", {"cutoff": moment.isoformat()})
    closed = result.get("closed") or []
    carried = result.get("carried_forward") or []
    human = "\n".join(
        [
            f"cutoff {result.get('cutoff')}{' (replayed)' if result.get('replayed') else ''}: "
            f"{len(closed)} closed, {len(carried)} carried forward",
            table(closed, ["id", "merchant_id", "currency", "item_count", "net_amount"]),
        ]
    )
    emit(s.json, result, human)


@click.command("reconcile")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="The UTC day to reconcile, YYYY-MM-DD.",
)
@json_option
def reconcile(day: datetime) -> None:
    """Reconcile one UTC day three ways (operators): items vs ledger, vs PSP, payouts vs bank.

    Exit 0 when everything matched, 1 on discrepancies.
    """
    s = session()
    start = datetime.combine(date(day.year, day.month, day.day), time(), UTC)
    period = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    report = s.settlement_admin().post("/settlements/reconciliation", period)
    checks = [
        {"check": name, "status": check.get("status"), **(check.get("counts") or {})}
        for name, check in (report.get("checks") or {}).items()
    ]
    columns = list(dict.fromkeys(key for row in checks for key in row))
    human = f"{start.date()}: {report.get('status')}\n{table(checks, columns)}"
    emit(s.json, report, human)
    if report.get("status") != "matched":
        click.get_current_context().exit(DISCREPANCIES)

"""The balances page: escrow, payable and receivable per currency, and the last days' volume
(what the merchant's succeeded payments took) beside what was paid out, per currency.

Volume is summed from the payments list (``created_gte`` the first day, newest first, a bounded
number of pages) and payouts from the merchant's paid settlement batches; when the bound cuts
the list short the page says the chart is partial instead of showing a smaller day as true.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final

from dashboard_service.adapters.platform_api import PlatformApi
from dashboard_service.domain.charts import DailyChart, daily_charts, last_days
from dashboard_service.domain.times import parse_time
from payevents.statuses import PAID_PAYMENT_STATUSES

CHART_DAYS: Final = 14
PAGE_SIZE: Final = 100
MAX_PAGES: Final = 10


@dataclass(frozen=True)
class BalancesPage:
    balances: list[dict[str, Any]]
    charts: list[DailyChart]
    partial: bool


def balances_page(api: PlatformApi, today: date) -> BalancesPage:
    balances = list(api.get("/v1/balances").get("data") or [])
    days = last_days(today, CHART_DAYS)
    since = datetime.combine(days[0], time(), UTC).isoformat()
    payments, partial_payments = _all(api, "/v1/payments", {"created_gte": since})
    batches, partial_batches = _all(api, "/v1/settlements", {"from": since, "status": "paid"})
    moves = [*_volume(payments), *_payouts(batches)]
    return BalancesPage(balances, daily_charts(days, moves), partial_payments or partial_batches)


def _all(api: PlatformApi, path: str, query: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = api.get(path, {**query, "limit": PAGE_SIZE, "cursor": cursor})
        found.extend(page.get("data") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            return found, False
    return found, True


def _volume(payments: list[dict[str, Any]]) -> Iterator[tuple[str, str, date, int]]:
    for payment in payments:
        created = parse_time(payment.get("created_at"))
        if created and payment.get("status") in PAID_PAYMENT_STATUSES:
            yield "volume", str(payment["currency"]), created.date(), int(payment["amount"])


def _payouts(batches: list[dict[str, Any]]) -> Iterator[tuple[str, str, date, int]]:
    for batch in batches:
        paid = parse_time(batch.get("updated_at"))
        if paid and batch.get("status") == "paid":
            yield "payouts", str(batch["currency"]), paid.date(), int(batch.get("net_amount") or 0)

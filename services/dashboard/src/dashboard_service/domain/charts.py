"""Daily volume and payouts per currency, laid out as bars for a server-rendered SVG chart.

No JavaScript draws it: the view computes the geometry here and the template writes rects, so
the chart is an image the page already holds (with a table of the same figures beside it for
people who do not see it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

SERIES: Final = ("volume", "payouts")
WIDTH: Final = 640
HEIGHT: Final = 200
AXIS_LEFT: Final = 8
AXIS_BOTTOM: Final = 24
GAP: Final = 4


@dataclass(frozen=True)
class Bar:
    series: str
    day: date
    amount: int
    x: float
    y: float
    width: float
    height: float


@dataclass
class DailyChart:
    """One currency's days, oldest first, and the amount of each series on each day."""

    currency: str
    days: list[date]
    amounts: dict[str, dict[date, int]] = field(default_factory=dict)

    def amount(self, series: str, day: date) -> int:
        return self.amounts.get(series, {}).get(day, 0)

    @property
    def largest(self) -> int:
        return max((self.amount(s, d) for s in SERIES for d in self.days), default=0)

    def bars(self) -> list[Bar]:
        """Two bars a day side by side, scaled to the largest amount of either series."""
        if not self.days:
            return []
        slot = (WIDTH - AXIS_LEFT) / len(self.days)
        bar_width = max((slot - GAP) / len(SERIES), 1.0)
        plot_height = HEIGHT - AXIS_BOTTOM
        scale = plot_height / self.largest if self.largest > 0 else 0.0
        bars = []
        for index, day in enumerate(self.days):
            for offset, series in enumerate(SERIES):
                amount = self.amount(series, day)
                height = max(amount, 0) * scale
                bars.append(
                    Bar(
                        series,
                        day,
                        amount,
                        x=AXIS_LEFT + index * slot + GAP / 2 + offset * bar_width,
                        y=plot_height - height,
                        width=bar_width,
                        height=height,
                    )
                )
        return bars


def last_days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=back) for back in range(count - 1, -1, -1)]


def daily_charts(days: list[date], moves: Iterable[tuple[str, str, date, int]]) -> list[DailyChart]:
    """Charts per currency from (series, currency, day, amount) moves; days outside are left out."""
    wanted = set(days)
    by_currency: dict[str, dict[str, dict[date, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for series, currency, day, amount in moves:
        if day in wanted:
            by_currency[currency][series][day] += amount
    return [
        DailyChart(currency, days, {s: dict(v) for s, v in series.items()})
        for currency, series in sorted(by_currency.items())
    ]

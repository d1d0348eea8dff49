"""The balances chart's geometry, and API problems as sentences a person can act on."""

from __future__ import annotations

from datetime import date

from dashboard_service.domain.charts import AXIS_BOTTOM, HEIGHT, daily_charts, last_days
from dashboard_service.domain.explanations import explain_problem, unreachable


def test_daily_charts_sum_each_day_per_currency_and_leave_out_other_days() -> None:
    days = last_days(date(2026, 12, 10), 3)
    assert days == [date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 10)]
    charts = daily_charts(
        days,
        [
            ("volume", "EUR", date(2026, 12, 9), 1000),
            ("volume", "EUR", date(2026, 12, 9), 500),
            ("payouts", "EUR", date(2026, 12, 10), 700),
            ("volume", "USD", date(2026, 12, 8), 200),
            ("volume", "EUR", date(2026, 11, 1), 99999),
        ],
    )
    assert [c.currency for c in charts] == ["EUR", "USD"]
    eur = charts[0]
    assert eur.amount("volume", date(2026, 12, 9)) == 1500 and eur.largest == 1500
    bars = {(b.series, b.day): b for b in eur.bars()}
    assert len(bars) == 6
    tallest = bars[("volume", date(2026, 12, 9))]
    assert tallest.y == 0 and tallest.height == HEIGHT - AXIS_BOTTOM
    assert bars[("payouts", date(2026, 12, 10))].height < tallest.height
    assert bars[("volume", date(2026, 12, 8))].height == 0


def test_a_known_code_says_what_happened_and_what_to_do() -> None:
    told = explain_problem(
        422, {"code": "refund_exceeds_captured_amount", "detail": "refund of 9000 > 3000"}
    )
    assert told.what_happened.startswith("The refund is larger than what is left")
    assert "at most" in told.what_to_do


def test_an_unknown_problem_keeps_its_detail_and_field_errors() -> None:
    told = explain_problem(
        422,
        {
            "code": "validation_failed",
            "detail": "The request body is not valid",
            "errors": {"amount": ["Must be at least 1."]},
        },
    )
    assert told.what_happened == "Some values were not accepted. The request body is not valid."
    assert told.field_errors == {"amount": "Must be at least 1."}


def test_a_server_error_never_shows_its_detail() -> None:
    told = explain_problem(500, {"code": "internal_error", "detail": "psycopg.OperationalError"})
    assert "psycopg" not in told.what_happened + told.what_to_do
    assert told.what_happened == "Something went wrong on the platform's side."


def test_rate_limits_say_how_long_to_wait_and_outages_say_nothing_changed() -> None:
    assert "Wait 7 seconds" in explain_problem(429, {"retry_after": "7"}).what_to_do
    assert "Nothing was changed" in unreachable("gateway").what_to_do

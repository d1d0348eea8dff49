"""Back-off with jitter up to the horizon (no cluster needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webhook_service.domain.retry_schedule import RetrySchedule

START = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)


def test_delays_double_up_to_the_ceiling_and_jitter_stays_within_half_of_it() -> None:
    low = RetrySchedule(uniform=lambda a, b: a)
    high = RetrySchedule(uniform=lambda a, b: b)

    assert [high.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert [low.delay(n).total_seconds() for n in (1, 2, 3)] == [2.5, 5, 10]
    assert high.delay(40) == timedelta(hours=6)


def test_retries_of_many_messages_spread_out() -> None:
    schedule = RetrySchedule()

    assert len({schedule.delay(3) for _ in range(50)}) > 40


def test_the_last_attempt_is_at_the_horizon_and_after_it_the_message_has_failed() -> None:
    schedule = RetrySchedule(uniform=lambda a, b: b)
    near_end = START + timedelta(days=3) - timedelta(minutes=1)

    assert schedule.next_attempt(series_started=START, failed_attempts=20, now=near_end) == (
        START + timedelta(days=3)
    )
    at_end = START + timedelta(days=3)
    assert schedule.next_attempt(series_started=START, failed_attempts=21, now=at_end) is None


def test_three_days_of_failures_take_about_twenty_attempts() -> None:
    schedule = RetrySchedule(uniform=lambda a, b: b)
    now, attempts = START, 1
    while due := schedule.next_attempt(series_started=START, failed_attempts=attempts, now=now):
        now, attempts = due, attempts + 1

    assert 15 <= attempts <= 25
    assert now == START + timedelta(days=3)

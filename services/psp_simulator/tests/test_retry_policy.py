"""Webhook retry schedule: exponential from a base, capped, jittered, within a horizon. No I/O."""

import pytest

from psp_simulator.domain.delivery import AttemptResult, RetryPolicy

POLICY = RetryPolicy(base_seconds=1.0, cap_seconds=60.0, horizon_seconds=3600.0, jitter=0.2)


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    delays = [POLICY.nominal_delay(n) for n in range(1, 10)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_no_jitter_roll_gives_the_nominal_delay_and_jitter_only_shortens_it() -> None:
    assert POLICY.delay(3, roll=0.0) == 4.0
    assert POLICY.delay(3, roll=0.5) == pytest.approx(3.6)
    assert POLICY.delay(3, roll=1.0) == pytest.approx(3.2)


@pytest.mark.parametrize("roll", [0.0, 0.3, 0.999])
def test_jittered_delay_stays_within_its_band_and_under_the_cap(roll: float) -> None:
    for failed in range(1, 40):
        nominal = POLICY.nominal_delay(failed)
        assert nominal * 0.8 <= POLICY.delay(failed, roll) <= nominal <= 60.0


def test_a_huge_attempt_count_still_gives_the_cap() -> None:
    assert POLICY.nominal_delay(10_000) == 60.0


def test_next_attempt_is_scheduled_from_now() -> None:
    at = POLICY.next_attempt_at(failed_attempts=2, first_due_at=100.0, now=110.0, roll=0.0)
    assert at == 112.0


def test_gives_up_when_the_next_attempt_would_fall_past_the_horizon() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=8.0, horizon_seconds=10.0)
    assert policy.next_attempt_at(failed_attempts=4, first_due_at=0.0, now=2.0, roll=0) == 10.0
    assert policy.next_attempt_at(failed_attempts=4, first_due_at=0.0, now=2.1, roll=0) is None


def test_default_schedule_makes_twenty_attempts_within_the_hour() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=300.0, horizon_seconds=3600.0)
    attempts, last_attempt_at = 1, 0.0
    while True:
        at = policy.next_attempt_at(
            failed_attempts=attempts, first_due_at=0.0, now=last_attempt_at, roll=0
        )
        if at is None:
            break
        attempts, last_attempt_at = attempts + 1, at
    # 1+2+...+256 = 511 s for the first ten attempts, then one every 300 s until the hour is up.
    assert (attempts, last_attempt_at) == (20, 3511.0)


@pytest.mark.parametrize(
    "arguments",
    [
        {"base_seconds": 0, "cap_seconds": 1, "horizon_seconds": 1},
        {"base_seconds": 2, "cap_seconds": 1, "horizon_seconds": 1},
        {"base_seconds": 1, "cap_seconds": 1, "horizon_seconds": -1},
        {"base_seconds": 1, "cap_seconds": 1, "horizon_seconds": 1, "jitter": 1.5},
    ],
)
def test_nonsense_policies_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**arguments)


@pytest.mark.parametrize(
    ("result", "accepted"),
    [
        (AttemptResult(status_code=200), True),
        (AttemptResult(status_code=204), True),
        (AttemptResult(status_code=301), False),
        (AttemptResult(status_code=400), False),
        (AttemptResult(status_code=503), False),
        (AttemptResult(error="ConnectError: refused"), False),
    ],
)
def test_only_a_2xx_answer_counts_as_delivered(result: AttemptResult, accepted: bool) -> None:
    assert result.accepted is accepted

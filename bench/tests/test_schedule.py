import pytest

from bench.schedule import send_offsets


def test_a_rate_for_a_duration_sends_rate_times_seconds_requests_evenly_spaced() -> None:
    offsets = send_offsets(rate=4, seconds=2)

    assert offsets == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_every_send_is_due_before_the_duration_ends() -> None:
    offsets = send_offsets(rate=100, seconds=10)

    assert len(offsets) == 1000
    assert offsets[0] == 0.0
    assert max(offsets) < 10


def test_a_rate_that_does_not_divide_the_duration_rounds_the_count_down() -> None:
    assert len(send_offsets(rate=3, seconds=1.5)) == 4


def test_rates_that_float_arithmetic_makes_inexact_keep_their_count() -> None:
    assert len(send_offsets(rate=0.1, seconds=30)) == 3


@pytest.mark.parametrize(("rate", "seconds"), [(0, 10), (-5, 10), (10, 0)])
def test_a_rate_or_duration_that_is_not_positive_is_refused(rate: float, seconds: float) -> None:
    with pytest.raises(ValueError):
        send_offsets(rate, seconds)

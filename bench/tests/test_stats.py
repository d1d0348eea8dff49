import random

import pytest

from bench.stats import LatencySummary, percentile


def test_nearest_rank_of_one_to_a_hundred_is_the_percent_itself() -> None:
    ordered = [float(n) for n in range(1, 101)]

    assert percentile(ordered, 0.50) == 50
    assert percentile(ordered, 0.95) == 95
    assert percentile(ordered, 0.99) == 99
    assert percentile(ordered, 1.0) == 100


def test_a_percentile_is_always_a_sample_that_was_observed() -> None:
    ordered = [10.0, 20.0, 30.0, 40.0]

    assert percentile(ordered, 0.50) == 20
    assert percentile(ordered, 0.51) == 30
    assert percentile(ordered, 0.99) == 40


def test_one_sample_is_every_percentile() -> None:
    assert percentile([7.0], 0.01) == percentile([7.0], 0.99) == 7


def test_no_samples_or_a_fraction_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_the_summary_is_in_milliseconds_whatever_order_the_samples_came_in() -> None:
    samples = [n / 1000 for n in range(1, 201)]
    random.Random(7).shuffle(samples)

    summary = LatencySummary.of_seconds(samples)

    assert summary == LatencySummary(count=200, p50_ms=100, p95_ms=190, p99_ms=198, max_ms=200)


def test_a_rate_with_no_answers_has_no_summary() -> None:
    assert LatencySummary.of_seconds([]) is None

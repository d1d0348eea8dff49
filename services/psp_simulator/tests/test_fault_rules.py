"""Injected faults decide each call's fate from two random rolls. No I/O."""

import pytest

from psp_simulator.domain.faults import Faults, Verdict, verdict


def test_no_faults_serves_every_call() -> None:
    assert verdict(Faults(), error_roll=0.0, kind_roll=0.0) is Verdict.SERVE


def test_down_refuses_every_call_as_unavailable() -> None:
    assert verdict(Faults(down=True), error_roll=0.99, kind_roll=0.99) is Verdict.UNAVAILABLE


def test_error_rate_hits_the_rolls_below_it_with_500_or_503() -> None:
    faults = Faults(error_rate=0.25)
    assert verdict(faults, error_roll=0.24, kind_roll=0.1) is Verdict.INTERNAL_ERROR
    assert verdict(faults, error_roll=0.24, kind_roll=0.9) is Verdict.UNAVAILABLE
    assert verdict(faults, error_roll=0.25, kind_roll=0.1) is Verdict.SERVE


def test_full_error_rate_fails_everything() -> None:
    faults = Faults(error_rate=1.0)
    assert verdict(faults, error_roll=0.999, kind_roll=0.0) is not Verdict.SERVE


@pytest.mark.parametrize(
    "arguments", [{"latency_ms": -1}, {"latency_ms": 60_001}, {"error_rate": 1.01}]
)
def test_out_of_range_faults_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(**arguments)  # type: ignore[arg-type]

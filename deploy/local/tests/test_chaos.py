"""The broker-crash rounds' verdicts (make chaos ROUNDS=n). A round's broker crash under a burst
is played in make test by the fault journeys (test_fault_journeys.py), with every invariant."""

from __future__ import annotations

from datetime import UTC, datetime

from localcluster.chaos.rounds import RoundResult, RoundSettings
from localcluster.chaos.run import summary


def test_a_round_passes_only_in_time_and_without_problems() -> None:
    assert RoundResult(1, 300, recovery_seconds=14.9).within(15)
    assert not RoundResult(1, 300, recovery_seconds=15.1).within(15)
    assert not RoundResult(1, 300, recovery_seconds=None).within(15)
    charged_twice = RoundResult(1, 300, recovery_seconds=3.0, problems=["PAY_x has 2 charges"])
    assert not charged_twice.within(15)


def test_the_summary_gives_every_round_and_how_many_passed() -> None:
    rounds = [
        RoundResult(1, 300, recovery_seconds=4.25),
        RoundResult(2, 300, recovery_seconds=None),
        RoundResult(3, 300, recovery_seconds=31.0),
    ]
    assert summary(rounds, 15) == (
        "recovery after a broker restart (s): 4.2, never, 31.0; "
        "1 of 3 rounds within 15s and without problems"
    )


def test_a_burst_exercises_both_final_outcomes() -> None:
    methods = RoundSettings(payments=10).payment_methods()
    assert methods.count("pm_card_declined") == 2 and methods.count("pm_card_visa") == 8


def test_a_round_line_says_when_the_broker_was_ready() -> None:
    ready = datetime(2026, 1, 1, 9, 20, 23, 761000, tzinfo=UTC)
    result = RoundResult(2, 300, 38, 17.4, 36.9, broker_ready_at=ready)
    assert result.describe() == (
        "round 2: 36.9s from the broker ready at 09:20:23.761 to the last of 300 payments "
        "final (38 were final before; broker down 17.4s)"
    )

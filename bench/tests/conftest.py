"""Synthetic payments and the events the pipeline would publish about them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.driver import CreatedPayment
from bench.pipeline import Milestone, MilestoneEvent

# Seconds after the create's send at which each milestone is committed, then produced: a
# payment that goes through every hop, each of a different length so a swapped hop shows.
JOURNEY: dict[Milestone, tuple[float, float]] = {
    Milestone.CREATED: (0.040, 0.090),
    Milestone.CHARGED: (0.300, 0.320),
    Milestone.REPORTED: (0.700, 0.760),
    Milestone.SUCCEEDED: (0.900, 0.950),
    Milestone.POSTED: (1.200, 1.230),
    Milestone.ITEMISED: (1.500, 1.510),
}

Journey = Callable[..., tuple[CreatedPayment, list[MilestoneEvent]]]


@pytest.fixture
def journey() -> Journey:
    """A created payment sent at ``sent_at``, and its events through ``milestones`` (all of
    the journey by default), every hop stretched by ``slower`` seconds per step."""

    def make(
        payment_id: str,
        sent_at: float = 1_000.0,
        milestones: tuple[Milestone, ...] = tuple(JOURNEY),
        slower: float = 0.0,
    ) -> tuple[CreatedPayment, list[MilestoneEvent]]:
        created = CreatedPayment(payment_id, sent_at=sent_at, answered_at=sent_at + 0.05)
        events = [
            MilestoneEvent(
                payment_id,
                milestone,
                committed_at=sent_at + committed + slower * step,
                produced_at=sent_at + produced + slower * step,
            )
            for step, (milestone, (committed, produced)) in enumerate(JOURNEY.items(), start=1)
            if milestone in milestones
        ]
        return created, events

    return make

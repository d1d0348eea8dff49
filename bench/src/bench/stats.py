"""Latency percentiles by the nearest-rank method.

Nearest rank always answers a latency that was really observed (no interpolation between two
samples), which is what a reader of "p99 = 412 ms" expects: one request in a hundred took at
least that long.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``ordered`` (ascending): the smallest sample with at least
    ``fraction`` of all samples at or below it."""
    if not ordered:
        raise ValueError("no samples")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    rank = math.ceil(fraction * len(ordered) - 1e-9)
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one rate's latencies, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of_seconds(cls, samples: Sequence[float]) -> LatencySummary | None:
        """The summary of ``samples`` (seconds, any order), or None when there are none."""
        if not samples:
            return None
        ordered = sorted(samples)

        def ms(fraction: float) -> float:
            return round(percentile(ordered, fraction) * 1000, 1)

        return cls(len(ordered), ms(0.50), ms(0.95), ms(0.99), round(ordered[-1] * 1000, 1))

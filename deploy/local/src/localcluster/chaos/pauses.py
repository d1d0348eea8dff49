"""How long payments stopped becoming final: the longest pause, from the payment database.

A payment is final at the commit that wrote its final event (``payment.succeeded`` or
``payment.failed``) into the outbox, with its new status: that row's ``created_at`` is
PostgreSQL's ``now()`` of the commit, on the run's own clock, and unlike the payment row's
``updated_at`` it never moves again. Under a steady load payments become final a fraction of a
second apart; the longest pause is the largest gap between two consecutive final moments.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from localcluster.chaos.observe import FINAL_EVENT_TYPES


@dataclass(frozen=True)
class Pause:
    """No payment became final between ``after`` and ``until`` (wall-clock seconds)."""

    after: float
    until: float

    @property
    def seconds(self) -> float:
        return self.until - self.after

    def describe(self, since: float) -> str:
        return f"{self.seconds:.1f}s, from {self.after - since:+.1f}s to {self.until - since:+.1f}s"


def longest_pause(final_moments: Sequence[float]) -> Pause | None:
    """The largest gap between consecutive moments; None with fewer than two."""
    ordered = sorted(final_moments)
    gaps = [Pause(a, b) for a, b in itertools.pairwise(ordered)]
    return max(gaps, key=lambda pause: pause.seconds, default=None)


def journey_moments(payment_db: str, payment_ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per final payment: when it was created and when it became final (epoch seconds)."""
    with psycopg.connect(payment_db) as conn:
        rows = conn.execute(
            "SELECT p.id, extract(epoch FROM p.created_at)::float8,"
            " extract(epoch FROM min(o.created_at))::float8"
            " FROM payments p JOIN outbox o ON convert_from(o.key, 'UTF8') = p.id"
            " WHERE p.id = ANY(%s)"
            " AND convert_from(o.value, 'UTF8')::jsonb->>'type' = ANY(%s)"
            " GROUP BY p.id, p.created_at",
            (list(payment_ids), list(FINAL_EVENT_TYPES)),
        ).fetchall()
    return {payment_id: (created, final) for payment_id, created, final in rows}

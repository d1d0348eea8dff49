"""When a failed webhook is tried again, and when it is given up.

Exponential back-off (``base * 2^(n-1)``, at most ``max_delay``) with jitter, so the retries of
thousands of messages that failed together (an endpoint's outage) spread out instead of
arriving together when it comes back. The series ends at the horizon (three days by default,
as merchants expect from Stripe and Svix): a last attempt is made at the horizon itself, and
when that fails too the message has failed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

DEFAULT_BASE: Final = timedelta(seconds=5)
DEFAULT_MAX_DELAY: Final = timedelta(hours=6)
DEFAULT_HORIZON: Final = timedelta(days=3)
# Each delay is drawn from [(1 - JITTER) * d, d]: spread out, and never much shorter than asked.
JITTER: Final = 0.5


@dataclass(frozen=True)
class RetrySchedule:
    base: timedelta = DEFAULT_BASE
    max_delay: timedelta = DEFAULT_MAX_DELAY
    horizon: timedelta = DEFAULT_HORIZON
    uniform: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def delay(self, failed_attempts: int) -> timedelta:
        """The wait after the ``failed_attempts``-th failure of a series (1 for the first)."""
        exponent = min(max(failed_attempts - 1, 0), 62)
        ceiling = min(self.base * (2**exponent), self.max_delay)
        spread: float = self.uniform(1.0 - JITTER, 1.0)
        delay: timedelta = ceiling * spread
        return delay

    def next_attempt(
        self, *, series_started: datetime, failed_attempts: int, now: datetime
    ) -> datetime | None:
        """When to try again, or None when the horizon has passed: the message has failed."""
        deadline = series_started + self.horizon
        if now >= deadline:
            return None
        return min(now + self.delay(failed_attempts), deadline)

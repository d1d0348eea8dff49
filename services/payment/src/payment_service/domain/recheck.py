"""When the PSP is next asked about a payment or refund: a next-check time with back-off.

Modelled on Kill Bill's janitor. Every payment or refund whose outcome the platform cannot yet
vouch for carries a due time. The janitor claims a due one by pushing the time out by the
back-off *before* it calls the PSP, so a call that fails, hangs or crashes the process leaves the
next look already scheduled, later each time; one that keeps failing never starves the others,
which are ordered by their own due times. A report that needs confirming makes the check due now;
an outcome applied from a report alone is confirmed once by the PSP's record a little later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    first: timedelta
    longest: timedelta

    def delay(self, attempts: int) -> timedelta:
        """``first`` doubled per attempt already made, at most ``longest``."""
        if attempts >= 32:
            return self.longest
        delay: timedelta = min(self.first * (2**attempts), self.longest)
        return delay


@dataclass
class Recheck:
    due_at: datetime | None = None
    attempts: int = 0

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now

    def claim(self, now: datetime, backoff: Backoff) -> None:
        """Taken for a check now; if it brings no final answer, the next is already set."""
        self.due_at = now + backoff.delay(self.attempts)
        self.attempts += 1

    def wait_until(self, moment: datetime) -> None:
        """Look at ``moment`` at the latest, unless an earlier look is already due."""
        if self.due_at is None or moment < self.due_at:
            self.due_at = moment

    def confirm_at(self, moment: datetime) -> None:
        """An outcome learned from a report alone: the PSP's record confirms it once, then."""
        self.due_at = moment
        self.attempts = 0

    def now(self, now: datetime) -> None:
        """Something needs confirming: ask the PSP at the next pass, back-off started afresh."""
        self.due_at = now
        self.attempts = 0

    def clear(self) -> None:
        """The platform and the PSP agree on a final outcome: nothing left to ask."""
        self.due_at = None
        self.attempts = 0

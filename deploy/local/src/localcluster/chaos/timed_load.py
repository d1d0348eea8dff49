"""Payments created at a steady rate for as long as a fault lasts, each create timed.

Open-ended, unlike a burst of a known size: the load keeps going while a broker is down and
while it comes back, however long that takes, and stops when told. A create is timed from the
moment it was due, not from when a thread took it up, so a create API that stalls shows as
latency instead of as fewer payments.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from localcluster.chaos.api import PlatformApi

CONCURRENCY = 4  # a create held up by a retry holds up no other
DECLINED_EVERY = 5  # every fifth payment is declined: both final statuses are exercised


@dataclass(frozen=True)
class Created:
    payment_id: str
    due: float  # wall-clock seconds
    answered: float

    @property
    def latency(self) -> float:
        return self.answered - self.due


def payment_method(n: int) -> str:
    return "pm_card_declined" if (n + 1) % DECLINED_EVERY == 0 else "pm_card_visa"


class TimedLoad:
    """``rate`` payments a second, from a pacing thread and a small pool, until ``stop``."""

    def __init__(self, api: PlatformApi, rate: float) -> None:
        self.api = api
        self.interval = 1.0 / rate
        self._stopped = threading.Event()
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="timed-load")
        self._futures: list[Future[Created]] = []
        self._pacer = threading.Thread(target=self._pace, name="timed-load-pacer", daemon=True)

    def start(self) -> None:
        self._pacer.start()

    def _pace(self) -> None:
        started = time.time()
        n = 0
        # The pace is the load's shape, not a wait for a condition; `stop` ends it.
        while not self._stopped.wait(max(0.0, started + n * self.interval - time.time())):
            self._futures.append(self._pool.submit(self._create, n, started + n * self.interval))
            n += 1

    def _create(self, n: int, due: float) -> Created:
        payment_id = self.api.create_payment(payment_method(n))
        return Created(payment_id, due, time.time())

    def sent(self) -> int:
        """How many payments have fallen due so far, answered or not."""
        return len(self._futures)

    def created(self) -> int:
        """How many payments the API has answered so far."""
        return sum(future.done() for future in list(self._futures))

    def created_since(self, moment: float) -> list[str]:
        """The payments answered so far that were due at ``moment`` or later."""
        answered = [future.result() for future in list(self._futures) if future.done()]
        return [created.payment_id for created in answered if created.due >= moment]

    def stop(self) -> list[Created]:
        """Stop sending; wait for the creates in flight; every payment, in the order sent."""
        self._stopped.set()
        self._pacer.join()
        try:
            return [future.result() for future in self._futures]
        finally:
            self._pool.shutdown()


@dataclass(frozen=True)
class Spread:
    """The median and the largest of some durations, in seconds."""

    median: float
    largest: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        return cls(statistics.median(seconds), max(seconds)) if seconds else cls(0.0, 0.0)

    def describe(self) -> str:
        return f"median {self.median:.2f}s, largest {self.largest:.2f}s"

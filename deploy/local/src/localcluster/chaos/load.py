"""The burst the faults strike: its payments released fault by fault, each share paced evenly
across the time its fault is expected to take.

Paced, not sent up front, so that whenever a fault strikes there are payments at every hop of
the journey (being created, relayed, charged, reported, applied, posted) and the payment API
itself is asked while processes and databases are down. Shared out fault by fault, not at one
rate for the whole run, so that a late fault (the PSP's 30 s outage at the end of the
journeys) has payments to catch however long the faults before it took to recover from.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from localcluster.chaos.api import PlatformApi

CONCURRENCY = 4  # a POST held up by a fault (a retried idempotent request) holds up no other


def shares(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders first), summing to it."""
    whole = sum(weights) or 1.0
    exact = [total * weight / whole for weight in weights]
    counts = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda n: counts[n] - exact[n])
    for n in by_remainder[: total - sum(counts)]:
        counts[n] += 1
    return counts


class PacedBurst:
    """Creates ``payment_methods`` in order, a window at a time, from threads of its own."""

    def __init__(self, api: PlatformApi, payment_methods: Sequence[str]) -> None:
        self.api = api
        self._waiting = deque(payment_methods)
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="burst")
        self._futures: list[Future[str]] = []
        self._hurry = threading.Event()
        self._pacer: threading.Thread | None = None

    def release(self, count: int, seconds: float) -> None:
        """Pace the next ``count`` payments across ``seconds`` from now.

        What the window before had not sent yet is sent at once first.
        """
        self._end_window()
        methods = [self._waiting.popleft() for _ in range(min(count, len(self._waiting)))]
        self._hurry = threading.Event()
        self._pacer = threading.Thread(
            target=self._pace, args=(methods, seconds, self._hurry), name="burst-pacer", daemon=True
        )
        self._pacer.start()

    def _pace(self, methods: list[str], seconds: float, hurry: threading.Event) -> None:
        started, interval = time.monotonic(), seconds / max(len(methods), 1)
        for n, method in enumerate(methods):
            # The pace is the load's shape, not a wait for a condition; a hurry cuts it short.
            hurry.wait(max(0.0, started + n * interval - time.monotonic()))
            self._futures.append(self._pool.submit(self.api.create_payment, method))

    def _end_window(self) -> None:
        self._hurry.set()
        if self._pacer is not None:
            self._pacer.join()

    def created_so_far(self) -> list[str]:
        done = [future for future in list(self._futures) if future.done()]
        return [future.result() for future in done if future.exception() is None]

    def finish(self) -> list[str]:
        """Send the rest at once; every payment's id, in the burst's order."""
        self._end_window()
        self._futures += [self._pool.submit(self.api.create_payment, m) for m in self._waiting]
        self._waiting.clear()
        try:
            return [future.result() for future in self._futures]
        finally:
            self._pool.shutdown()

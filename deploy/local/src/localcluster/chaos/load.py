"""The burst the faults strike: payments created at a steady pace while a schedule plays.

A steady pace, not one burst up front, so that whenever a fault strikes there are payments at
every hop of the journey (being created, relayed, charged, reported, applied, posted) and the
payment API itself is asked while processes and databases are down. Whatever is left when the
schedule ends is sent at once, so the burst is always whole.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from localcluster.chaos.api import PlatformApi

CONCURRENCY = 4  # a POST held up by a fault (a retried idempotent request) holds up no other


class SteadyLoad:
    """Creates ``payment_methods`` over ``seconds``, in order, from a thread of its own."""

    def __init__(self, api: PlatformApi, payment_methods: Sequence[str], seconds: float) -> None:
        self.api = api
        self.methods = list(payment_methods)
        self.interval = seconds / max(len(self.methods), 1)
        self._hurry = threading.Event()
        self._pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="load")
        self._futures: list[Future[str]] = []
        self._pacer = threading.Thread(target=self._pace, name="load-pacer", daemon=True)

    def start(self) -> None:
        self._pacer.start()

    def _pace(self) -> None:
        started = time.monotonic()
        for n, method in enumerate(self.methods):
            # The pace is the load's shape, not a wait for a condition; `finish` cuts it short.
            self._hurry.wait(max(0.0, started + n * self.interval - time.monotonic()))
            self._futures.append(self._pool.submit(self.api.create_payment, method))

    def created_so_far(self) -> list[str]:
        return [future.result() for future in list(self._futures) if future.done()]

    def finish(self) -> list[str]:
        """Send the rest at once; every payment's id, in the burst's order."""
        self._hurry.set()
        self._pacer.join()
        try:
            return [future.result() for future in self._futures]
        finally:
            self._pool.shutdown()

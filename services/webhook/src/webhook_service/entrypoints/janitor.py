"""A small loop beside the outbox relay that keeps the delivery log within its retention.

The relay is the webhook service's one long-running worker, so the prune runs there, in a
thread of its own: no extra process to deploy, and a failed prune never touches relaying.
Several relays may run (one leads, the others stand by); each prunes, which is harmless
because a prune skips rows another one holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg_pool import PoolTimeout

from paykit.logging import get_logger

_STOP_TIMEOUT_SECONDS: Final = 5.0

_log = get_logger(__name__)


class Janitor:
    """Calls ``prune`` at once and then every ``interval_seconds`` until stopped."""

    def __init__(self, prune: Callable[[], int], *, interval_seconds: float) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self._prune = prune
        self._interval = interval_seconds
        self._stop = threading.Event()
        self.passes = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        """The loop runs for the block; leaving it stops the loop after the pass in hand."""
        thread = threading.Thread(target=self._loop, name="webhook-janitor", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            # A pass stuck on an unreachable database must not hold the process's exit; the
            # thread is a daemon, and an interrupted prune leaves nothing half done.
            thread.join(timeout=_STOP_TIMEOUT_SECONDS)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._prune()
            except (psycopg.Error, PoolTimeout) as error:
                _log.warning("janitor_pass_failed", error=type(error).__name__)
            except Exception:
                # Pruning is idempotent and retried next pass; relaying must go on meanwhile.
                _log.exception("janitor_pass_crashed")
            self.passes += 1
            self._stop.wait(self._interval)

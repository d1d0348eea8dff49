"""Graceful stops: SIGTERM (an orchestrator) and SIGINT (a person) ask a process to finish."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def on_stop_signals(stop: Callable[[], None]) -> None:
    """SIGTERM and SIGINT call ``stop``; a no-op off the main thread, which alone may install."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop())

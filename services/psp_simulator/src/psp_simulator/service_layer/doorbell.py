"""How idle delivery loops learn that a delivery was queued without looking at the queue."""

import threading


class Doorbell:
    """Each ring wakes one waiting loop at once. A ring that finds nobody waiting is kept (up to
    `keep`, one per loop), so a delivery queued between a loop's look at the queue and its wait
    is not missed; a loop that finds a kept ring just looks at the queue once more.

    `ring_everyone` is for news that may have been missed (the listener reconnected): every loop
    looks again. `close` is for stopping: it wakes every loop, now and for good.
    """

    def __init__(self, keep: int = 1) -> None:
        if keep < 1:
            raise ValueError("a doorbell keeps at least one ring")
        self._keep = keep
        self._rings = 0
        self._closed = False
        self._bell = threading.Condition()

    def ring(self) -> None:
        with self._bell:
            self._rings = min(self._rings + 1, self._keep)
            self._bell.notify()

    def ring_everyone(self) -> None:
        with self._bell:
            self._rings = self._keep
            self._bell.notify_all()

    def close(self) -> None:
        with self._bell:
            self._closed = True
            self._bell.notify_all()

    def wait(self, seconds: float) -> bool:
        """Until a ring, a close or the end of `seconds`, timed here rather than by Redis (which
        times out a blocked command only at its next cron tick); False when the time ran out with no
        ring and no close."""
        with self._bell:
            rung = self._bell.wait_for(lambda: self._rings > 0 or self._closed, timeout=seconds)
            if self._rings > 0:
                self._rings -= 1
            return rung

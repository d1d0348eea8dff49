"""One sender process: several delivery loops on threads, woken by one listener.

Loops are safe to multiply because every attempt is claimed atomically in the queue (the same
reason several sender processes may share it); what they share in the process is the sender's
queue, its HTTP client (httpx.Client may be shared between threads) and the doorbell that the
listener rings when a delivery is queued.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from paykit.logging import get_logger
from psp_simulator.service_layer.delivery import WebhookSender
from psp_simulator.service_layer.ports import DeliveryNotices

_log = get_logger(__name__)


class EveryLoopHeartbeat:
    """The process's liveness signal from all its loops: it beats once every loop has come
    round since the last beat, so a loop that hangs stops the beats (and the process is seen
    as stuck) however busy the other loops are."""

    def __init__(self, loops: int, beat: Callable[[], None]) -> None:
        self._loops = frozenset(range(loops))
        self._not_yet_round = set(self._loops)
        self._beat = beat
        self._lock = threading.Lock()

    def of_loop(self, index: int) -> Callable[[], None]:
        if index not in self._loops:
            raise ValueError(f"no loop {index} among {len(self._loops)}")
        return partial(self._came_round, index)

    def _came_round(self, index: int) -> None:
        with self._lock:
            self._not_yet_round.discard(index)
            if not self._not_yet_round:
                self._not_yet_round = set(self._loops)
                self._beat()


@dataclass(frozen=True, slots=True)
class DeliveryLoops:
    sender: WebhookSender
    notices: DeliveryNotices
    threads: int

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError("a sender needs at least one delivery loop")

    def run(self, stop: threading.Event, heartbeat: Callable[[], None] = lambda: None) -> None:
        """Deliver on every loop until `stop` is set; each loop finishes and records the attempt
        in hand first. A loop or the listener failing with an error it does not wait out sets
        `stop` for all, and the first such error is raised here once every loop has finished."""
        doorbell = self.sender.doorbell
        beats = EveryLoopHeartbeat(self.threads, heartbeat)
        failures: list[BaseException] = []

        def minding(work: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    work()
                except BaseException as error:  # raised again by run(), in its caller's thread
                    failures.append(error)
                    stop.set()

            return run

        listener = threading.Thread(
            target=minding(
                partial(self.notices.listen, stop, doorbell.ring, doorbell.ring_everyone)
            ),
            name="webhook-notices",
        )
        loops = [
            threading.Thread(
                target=minding(partial(replace(self.sender, heartbeat=beats.of_loop(n)).run, stop)),
                name=f"webhook-sender-{n}",
            )
            for n in range(self.threads)
        ]
        _log.info("webhook_sender_started", threads=self.threads)
        for thread in (listener, *loops):
            thread.start()
        stop.wait()
        doorbell.close()  # cuts idle waits short
        for thread in (*loops, listener):
            thread.join()
        _log.info("webhook_sender_stopped")
        if failures:
            raise failures[0]

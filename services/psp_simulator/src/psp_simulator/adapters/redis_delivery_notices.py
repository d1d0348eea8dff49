"""News of queued deliveries for idle senders, over Redis pub/sub.

Queuing a delivery publishes its id on the prefix's `deliveries:queued` channel inside the
MULTI that queues it; each sender process subscribes once and rings its loops' doorbell per
message. Why pub/sub, rather than a wake-up list each idle loop pops with BLPOP:

- A loop must also wake when the earliest scheduled delivery falls due, and Redis times a
  blocked command out only at its next cron tick (every 1/hz s: up to 100 ms late at the
  default hz of 10), so a BLPOP timed to the head of the queue sends late. Loops therefore
  wait in the process, on a timer of their own, and only the news comes from Redis.
- Every sender process hears every delivery, and wakes one of its idle loops; a token popped
  from a list wakes one process only, which may have no idle loop at that moment.
- Nothing piles up while no sender runs, and no stale tokens wake anyone after a restart.

Pub/sub keeps nothing for a listener that is not connected (Redis restarting, a connection
cut), so news can be lost. It costs latency only, never a delivery: the queue itself is the
truth, every (re)subscription makes every loop look at the queue again, and loops look at
least once per poll interval anyway.
"""

import threading
from collections.abc import Callable
from typing import Final

import redis

from paykit.logging import get_logger
from psp_simulator.adapters.redis_keys import KeySpace

_log = get_logger(__name__)
# How long one read of the subscription may block: the bound on noticing `stop`.
READ_SLICE_SECONDS: Final = 1.0


class RedisDeliveryNotices:
    def __init__(
        self,
        client: redis.Redis,
        keys: KeySpace,
        *,
        transient_errors: tuple[type[Exception], ...],
        retry_pause_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._channel = keys.deliveries_queued()
        self._transient_errors = transient_errors
        self._retry_pause_seconds = retry_pause_seconds

    def listen(
        self,
        stop: threading.Event,
        on_queued: Callable[[], None],
        on_maybe_missed: Callable[[], None],
    ) -> None:
        while not stop.is_set():
            try:
                self._listen(stop, on_queued, on_maybe_missed)
            except self._transient_errors as error:
                _log.warning("webhook_notices_unavailable", error=type(error).__name__)
                stop.wait(self._retry_pause_seconds)

    def _listen(
        self,
        stop: threading.Event,
        on_queued: Callable[[], None],
        on_maybe_missed: Callable[[], None],
    ) -> None:
        with self._client.pubsub() as subscription:  # type: ignore[no-untyped-call]
            subscription.subscribe(self._channel)
            while not stop.is_set():
                message = subscription.get_message(timeout=READ_SLICE_SECONDS)
                if message is None:
                    continue
                if message["type"] == "message":
                    on_queued()
                elif message["type"] == "subscribe":  # first, and after every reconnection
                    on_maybe_missed()

"""Delivering queued webhooks: one attempt at a time per loop, retried with backoff until
accepted, and sent as soon as each falls due rather than at the next look on a fixed poll."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from paykit.logging import get_logger
from psp_simulator.domain.delivery import AttemptResult, DeliveryState, RetryPolicy
from psp_simulator.service_layer.doorbell import Doorbell
from psp_simulator.service_layer.ports import Clock, DeliveryQueue, Roll, WebhookTransport

_log = get_logger(__name__)
# The longest an idle loop waits without looking at the queue and at its stop signal, whatever
# the poll interval: a stop is never kept waiting longer than this.
MAX_IDLE_WAIT_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class AttemptReport:
    delivery_id: str
    event_id: str
    attempts: int
    result: AttemptResult
    state: DeliveryState
    next_attempt_at: float | None
    recorded: bool


@dataclass(frozen=True, slots=True)
class WebhookSender:
    """Claims due deliveries and sends them; any number of senders may share one queue.

    `lease_seconds` must outlast one attempt (connect, send, wait for the answer): a claim held
    longer than that is taken to belong to a sender that died, and the delivery is tried again.

    With nothing due, a loop waits until the earliest delivery in the queue falls due or the
    `doorbell` rings (a delivery was queued), whichever comes first, and at most
    `poll_interval_seconds`: the poll is only a safety net for news that never came.
    """

    queue: DeliveryQueue
    transport: WebhookTransport
    policy: RetryPolicy
    clock: Clock
    roll: Roll
    lease_seconds: float
    poll_interval_seconds: float
    # Queue errors worth waiting out (the store restarting); anything else stops the sender.
    transient_errors: tuple[type[Exception], ...] = ()
    # Called on every turn of the loop: the process's liveness signal (paykit.health).
    heartbeat: Callable[[], None] = lambda: None
    # Shared by every loop of a process, and rung by its listener (see delivery_loops).
    doorbell: Doorbell = field(default_factory=Doorbell)

    def deliver_next(self) -> AttemptReport | None:
        """Make one attempt at the next due delivery; None when nothing is due."""
        now = self.clock()
        claimed = self.queue.claim(now=now, lease_until=now + self.lease_seconds)
        if claimed is None:
            return None
        result = self.transport.send(claimed.body, claimed.target)
        finished_at = self.clock()
        next_attempt_at: float | None = None
        if result.accepted:
            state = DeliveryState.DELIVERED
        else:
            next_attempt_at = self.policy.next_attempt_at(
                failed_attempts=claimed.attempts,
                first_due_at=claimed.first_due_at,
                now=finished_at,
                roll=self.roll(),
            )
            state = DeliveryState.SCHEDULED if next_attempt_at is not None else DeliveryState.DEAD
        recorded = self.queue.finish(
            claimed, result=result, state=state, next_attempt_at=next_attempt_at, now=finished_at
        )
        report = AttemptReport(
            claimed.id, claimed.event_id, claimed.attempts, result, state, next_attempt_at, recorded
        )
        _log_attempt(report)
        return report

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; the attempt in hand is always finished and recorded.

        An idle wait ends at the latest `MAX_IDLE_WAIT_SECONDS` after `stop` is set, at once
        if the doorbell is closed too.
        """
        while not stop.is_set():
            self.heartbeat()
            try:
                if self.deliver_next() is None:
                    self._wait_for_work()
            except self.transient_errors as error:
                _log.warning("webhook_queue_unavailable", error=type(error).__name__)
                stop.wait(max(self.poll_interval_seconds, 1.0))

    def _wait_for_work(self) -> None:
        seconds = min(self.poll_interval_seconds, MAX_IDLE_WAIT_SECONDS)
        next_due_at = self.queue.next_due_at()
        if next_due_at is not None:
            seconds = min(seconds, next_due_at - self.clock())
        if seconds > 0:
            self.doorbell.wait(seconds)


def _log_attempt(report: AttemptReport) -> None:
    fields = {
        "delivery_id": report.delivery_id,
        "event_id": report.event_id,
        "attempt": report.attempts,
        "status_code": report.result.status_code,
        "error": report.result.error,
    }
    if not report.recorded:
        _log.warning("webhook_claim_lost", **fields)
    elif report.state is DeliveryState.DELIVERED:
        _log.info("webhook_delivered", **fields)
    elif report.state is DeliveryState.DEAD:
        _log.error("webhook_given_up", **fields)
    else:
        _log.info("webhook_attempt_failed", next_attempt_at=report.next_attempt_at, **fields)
